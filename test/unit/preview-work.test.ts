import { INLINE_PREVIEW_WORK, previewWork } from '../../src/api/rules';

describe("a rule preview's estimated work", () => {
  test('many short or empty tags are not inline work', () => {
    // Counted as no work, 100,000 empty tags would run on the event loop (about 250 ms a call).
    expect(previewWork({}, new Array<string>(100_000).fill(''))).toBeGreaterThan(INLINE_PREVIEW_WORK);
    expect(previewWork({}, new Array<string>(66_000).fill('1'))).toBeGreaterThan(INLINE_PREVIEW_WORK);
  });

  test('a few ordinary tags stay inline', () => {
    const tags = Array.from({ length: 200 }, (_, i) => `1.${i}.0-beta.${i}`);
    expect(previewWork({ tag: '^$' }, tags)).toBeLessThanOrEqual(INLINE_PREVIEW_WORK);
  });
});
