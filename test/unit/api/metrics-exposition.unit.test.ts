import { describe, expect, it } from 'vitest';
import { parseExposition, seriesValue } from '../../int/api/metrics-exposition.ts';

const GOOD = `# HELP am_x_total Things
# TYPE am_x_total counter
am_x_total{kind="a"} 2
am_x_total{kind="b \\"quoted\\" \\\\ and\\nnewline"} 3

# HELP am_h_seconds Times
# TYPE am_h_seconds histogram
am_h_seconds_bucket{le="0.5",role="w"} 1
am_h_seconds_bucket{le="+Inf",role="w"} 2
am_h_seconds_sum{role="w"} 1.25e0
am_h_seconds_count{role="w"} 2
# TYPE am_g gauge
am_g NaN
`;

describe('the strict exposition reader the metrics tests use', () => {
  it('reads families, escaped label values and histogram series', () => {
    const families = parseExposition(GOOD);
    expect([...families.keys()]).toEqual(['am_x_total', 'am_h_seconds', 'am_g']);
    expect(families.get('am_h_seconds')?.type).toBe('histogram');
    expect(seriesValue(families, 'am_x_total')).toBe(5);
    expect(families.get('am_x_total')?.samples[1]?.labels.kind).toBe('b "quoted" \\ and\nnewline');
    expect(seriesValue(families, 'am_h_seconds_count', { role: 'w' })).toBe(2);
    expect(seriesValue(families, 'am_h_seconds_sum')).toBe(1.25);
  });

  it.each([
    ['a sample of no declared family', 'am_y 1\n'],
    ['a sample before its TYPE', '# TYPE am_x counter\nam_x 1\n# TYPE am_x counter\n'],
    ['the same series twice', '# TYPE am_x counter\nam_x{a="1"} 1\nam_x{a="1"} 2\n'],
    ['a bad value', '# TYPE am_x gauge\nam_x one\n'],
    ['an unquoted label value', '# TYPE am_x gauge\nam_x{a=1} 1\n'],
    ['labels without commas', '# TYPE am_x gauge\nam_x{a="1"b="2"} 1\n'],
    ['a reserved label name', '# TYPE am_x gauge\nam_x{__name__="1"} 1\n'],
    ['an unknown type', '# TYPE am_x meter\n'],
    ['no final line feed', '# TYPE am_x gauge\nam_x 1'],
    [
      'buckets that are not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
    ],
    [
      'a _count that is not the +Inf bucket',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    ],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n'],
  ])('refuses %s', (_, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});
