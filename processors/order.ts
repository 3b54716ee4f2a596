/** The order event of the bundled example, as it is after `parse`. */
export interface Order {
  orderId: string;
  customerId: string;
  items: Array<{ sku: string; qty: number; price: number }>;
  currency: 'EUR' | 'USD' | 'GBP';
  createdAt: string;
}

/** An order after `enrich`. */
export interface EnrichedOrder extends Order {
  totalEur: number;
  tier: 'gold' | 'silver' | 'standard';
  itemCount: number;
}

export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
