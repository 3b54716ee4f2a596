import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { substitute } from '../../src/topology/interpolate.js';
import { formatSize, parseDuration, parseSize } from '../../src/topology/units.js';

const NAME = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);

test('substitute: any variable value is inserted byte for byte, never re-scanned', () => {
  fc.assert(fc.property(NAME, fc.string(), fc.string().filter((s) => !s.includes('$')), (name, value, around) => {
    const result = substitute(`${around}\${${name}}${around}`, { [name]: value });
    assert.deepEqual('text' in result && result.text, `${around}${value}${around}`);
  }));
});

test('substitute: text without "$" is returned unchanged', () => {
  fc.assert(fc.property(fc.string().filter((s) => !s.includes('$')), (text) => {
    assert.deepEqual(substitute(text, {}), { text, whole: false });
  }));
});

test('substitute: "$${" always yields a literal "${", whatever follows', () => {
  fc.assert(fc.property(fc.string().filter((s) => !s.includes('$')), (rest) => {
    assert.deepEqual(substitute(`$\${${rest}`, {}), { text: `\${${rest}`, whole: false });
  }));
});

test('durations: h/m/s/ms parts add up', () => {
  fc.assert(fc.property(fc.nat(99), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
    assert.equal(parseDuration(`${h}h${m}m${s}s${ms}ms`), ((h * 60 + m) * 60 + s) * 1000 + ms);
  }));
});

test('sizes: formatSize and parseSize round-trip', () => {
  fc.assert(fc.property(fc.nat(1 << 30), (bytes) => {
    assert.equal(parseSize(formatSize(bytes)), bytes);
  }));
});
