import { JsonTooDeepError, MAX_JSON_DEPTH, refuseDeepJson, unstorableField } from '../../src/api/body-guards';

describe('the JSON depth guard', () => {
  const deep = `{"tags":["\\""],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;

  test('refuses deep nesting after an escaped quote in UTF-8', () => {
    expect(() => refuseDeepJson(null, null, Buffer.from(deep, 'utf8'), 'utf-8')).toThrow(JsonTooDeepError);
  });

  test('refuses a body in another charset rather than scanning its bytes as UTF-8 (415)', () => {
    // Scanned as UTF-8, a UTF-16LE body ends the string at the escaped quote's own byte and counts no
    // bracket; the parsed body then overflows the stack in the NUL check, a 500.
    for (const charset of ['utf-16le', 'utf-16be', 'utf-16', 'utf-32'])
      expect(() => refuseDeepJson(null, null, Buffer.from(deep, 'utf16le'), charset)).toThrow(
        expect.objectContaining({ status: 415 }),
      );
    expect(() => refuseDeepJson(null, null, Buffer.from('{"a":1}'), 'UTF8')).not.toThrow();
    expect(() =>
      refuseDeepJson(null, null, Buffer.from(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)),
    ).not.toThrow();
  });
});

describe('strings PostgreSQL cannot store', () => {
  test('NUL and half a surrogate pair are named by their field; a whole pair passes', () => {
    expect(unstorableField({ a: { b: ['ok', 'x\u0000'] } }, '')).toEqual({
      field: 'a.b.1',
      message: expect.stringContaining('NUL'),
    });
    for (const lone of ['\ud800', 'a\udfff', '\udc00\ud800', 'end\ud83d'])
      expect(unstorableField({ description: lone }, '')?.field).toBe('description');
    expect(unstorableField({ ['k\ud800']: 1 }, '')?.field).toBe('k\ud800');
    expect(unstorableField({ text: 'emoji \ud83d\ude00 and text' }, '')).toBeUndefined();
  });
});
