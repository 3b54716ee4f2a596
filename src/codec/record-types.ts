/** A record handed to the envelope encoder: the value is already serialized. */
export interface RecordToEncode {
  value: Uint8Array;
  /** A generated id when omitted (16 random bytes). A 22-character base64url id is stored as its 16 bytes. */
  id?: string | Uint8Array;
  key?: string;
  /** Milliseconds since the epoch; the encoder's clock when omitted. Must be an integer. */
  timestamp?: number;
  headers?: Record<string, string>;
}

/** A record read back from one entry, value still as bytes. */
export interface DecodedRecord {
  id: string;
  key?: string;
  timestamp: number;
  headers: Record<string, string>;
  value: Uint8Array;
  /** `envelope` for walrus-stream entries, `text` for plain entries written by other clients. */
  format: 'envelope' | 'text';
}

/** A record as the application sees it, value deserialized. */
export interface WalrusRecord<T> {
  /** Unique id: 22 base64url characters for envelope records, `t`+22 for plain text records. */
  id: string;
  key?: string;
  value: T;
  headers: Record<string, string>;
  /** Milliseconds since the epoch (producer's clock; read time for plain text records). */
  timestamp: number;
  topic: string;
}
