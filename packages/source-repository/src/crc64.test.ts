import { describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Crc64, crc64 } from './crc64.js';

describe('crc64 (ISO, as Go hash/crc64 and tar-split)', () => {
  test('check value of "123456789"', () => {
    expect(crc64(Buffer.from('123456789')).toString('hex')).toBe('b90956c775a41001');
  });
  test('empty input', () => {
    expect(crc64(new Uint8Array()).toString('hex')).toBe('0000000000000000');
  });
  test('matches a CRC recorded by dockerd in tar-split ("hello\\n" -> YUw+7uLYEAA=)', () => {
    expect(crc64(Buffer.from('hello\n')).toString('base64')).toBe('YUw+7uLYEAA=');
    expect(crc64(Buffer.alloc(1000, 'x')).toString('base64')).toBe('4y7r4kVvHbo=');
  });
  test('incremental updates in any split equal one-shot', () => {
    const data = randomBytes(10_003);
    const whole = crc64(data).toString('hex');
    for (const cut of [1, 3, 4, 7, 512, 9999]) {
      const c = new Crc64();
      for (let i = 0; i < data.length; i += cut) c.update(data.subarray(i, i + cut));
      expect(c.hex()).toBe(whole);
    }
  });
});
