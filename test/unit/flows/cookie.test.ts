// weft's cookies: what the flow sync's cookie/cookie_mask filters select.
import fc from 'fast-check';
import t from 'tap';
import { cookie, LEARNED_FLOWS, matchesCookie, networkFlows, parseCookie, STATIC_FLOWS } from '../../../flows/index.js';
import { holds } from '../model/holds.js';

const owner = fc.constantFrom('static' as const, 'learned' as const);
const table = fc.integer({ min: 0, max: 255 });
const vni = fc.integer({ min: 0, max: 16_777_215 });

t.test('a cookie reads back as the owner, table and network it was made of', async (t) => {
  holds(t, 'cookie round trip', fc.property(owner, table, vni, (o, tb, v) => JSON.stringify(parseCookie(cookie(o, tb, v))) === JSON.stringify({ owner: o, table: tb, vni: v })));
});

t.test('the static filter selects every flow weft computes and no learned one; the learned filter the reverse', async (t) => {
  holds(
    t,
    'owner filters',
    fc.property(owner, table, vni, (o, tb, v) => {
      const c = cookie(o, tb, v);
      return matchesCookie(STATIC_FLOWS, c) === (o === 'static') && matchesCookie(LEARNED_FLOWS, c) === (o === 'learned');
    }),
  );
});

t.test("a network's filter selects that network's flows of that owner only", async (t) => {
  holds(
    t,
    'network filter',
    fc.property(owner, table, vni, owner, vni, (o, tb, v, fo, fv) => matchesCookie(networkFlows(fo, fv), cookie(o, tb, v)) === (o === fo && v === fv)),
  );
});

t.test('cookies of other controllers and operators are not weft’s', async (t) => {
  t.equal(parseCookie(0n), undefined);
  t.equal(parseCookie(0x1234n), undefined);
  t.equal(parseCookie(cookie('static', 10, 5) | 0x100000000n), undefined, 'bits weft never sets');
  holds(
    t,
    'foreign cookies are never selected',
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (c) => {
      const known = parseCookie(c) !== undefined;
      return known || (!matchesCookie(STATIC_FLOWS, c) && !matchesCookie(LEARNED_FLOWS, c)) || (c & 0xff000000n) !== 0n;
    }),
  );
  t.throws(() => cookie('static', 256), RangeError);
  t.throws(() => cookie('static', 0, 1 << 24), RangeError);
});
