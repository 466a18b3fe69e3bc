import { parseRange } from '../../src/domain/range';
import { parseVersion } from '../../src/domain/version';

const includes = (range: string, tag: string) => parseRange(range).includes(parseVersion(tag)!);

describe('NuGet interval notation, as Octopus channels use it', () => {
  test.each([
    // [range, in range, out of range]
    ['1.0', ['1.0', '1.0.0', '1.5', '2.0', '10.0.0'], ['0.9', '1.0.0-beta']],
    ['[1.0,)', ['1.0', '3.0'], ['0.9.9']],
    ['(1.0,)', ['1.0.1', '1.0.0.1', '2.0'], ['1.0', '1.0.0']],
    ['[1.0]', ['1.0', '1.0.0', 'v1.0.0.0'], ['1.0.1', '0.9']],
    ['[1.2.3]', ['1.2.3'], ['1.2.4', '1.2.3-rc.1']],
    ['(,1.0]', ['0.1', '1.0', '1.0.0-alpha'], ['1.0.1']],
    ['(,1.0)', ['0.9', '1.0.0-rc.1'], ['1.0']],
    ['[1.0,2.0]', ['1.0', '1.5', '2.0'], ['2.0.1', '0.9']],
    ['(1.0,2.0)', ['1.1', '2.0.0-beta'], ['1.0', '2.0']],
    ['[1.0,2.0)', ['1.0', '1.9.9', '2.0.0-beta'], ['2.0', '2.0.0', '0.9']],
    [' [ 1.0 , 2.0 ) ', ['1.0'], ['2.0']],
  ])('%s', (range, inside, outside) => {
    for (const tag of inside) expect([range, tag, includes(range, tag)]).toEqual([range, tag, true]);
    for (const tag of outside) expect([range, tag, includes(range, tag)]).toEqual([range, tag, false]);
  });

  test.each([
    ['(1.0)', /single version needs \[ and \]/],
    ['[2.0,1.0]', /is empty/],
    ['(1.0,1.0)', /is empty/],
    ['[1.0,2.0', /must end with/],
    ['[,]', /neither a lower nor an upper bound/],
    ['[,1.0]', /open lower end needs \(/],
    ['[a,b]', /is not a version/],
    ['[1,2,3]', /more than one comma/],
    ['', /empty/],
  ])('refuses %j', (range, message) => {
    expect(() => parseRange(range)).toThrow(message);
  });
});

describe('npm range notation', () => {
  test.each([
    ['^1.2.0', ['1.2.0', '1.9.9', 'v1.3.0'], ['2.0.0', '1.1.9', '1.3.0-beta.1']],
    ['~1.2.3', ['1.2.3', '1.2.9'], ['1.3.0']],
    ['>=1.0.0 <2.0.0', ['1.0.0', '1.99.0'], ['2.0.0', '2.0.0-rc.1']],
    ['1.x', ['1.0.0', '1.5.2'], ['2.0.0']],
    ['1.2 - 1.4', ['1.2.0', '1.4.9'], ['1.5.0']],
    ['^1.0.0 || ^3.0.0', ['1.1.0', '3.2.0'], ['2.0.0']],
    // npm's rule: a pre-release matches only a comparator on the same major.minor.patch that has one too.
    ['>=1.2.3-beta.1 <2', ['1.2.3-beta.2', '1.2.3', '1.5.0'], ['1.2.4-beta.1']],
    ['*', ['0.0.1', '99.0.0'], ['1.0.0-alpha']],
    ['^1.2.3', ['1.2.3.4'], ['1.2.2.9']],
  ])('%s', (range, inside, outside) => {
    expect(parseRange(range).notation).toBe('npm');
    for (const tag of inside) expect([range, tag, includes(range, tag)]).toEqual([range, tag, true]);
    for (const tag of outside) expect([range, tag, includes(range, tag)]).toEqual([range, tag, false]);
  });

  test('refuses text that is neither notation', () => {
    expect(() => parseRange('not a range')).toThrow(/neither a NuGet interval nor an npm range/);
    expect(() => parseRange('>=1.0 <<2')).toThrow(/neither/);
  });

  test('recognises the notation from the text', () => {
    expect(parseRange('1.5').notation).toBe('nuget');
    expect(parseRange('[1.5,)').notation).toBe('nuget');
    expect(parseRange('1.5.x').notation).toBe('npm');
    expect(parseRange('^1.5').notation).toBe('npm');
  });
});
