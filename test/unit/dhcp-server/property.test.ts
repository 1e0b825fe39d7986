// Properties of the service under random traffic: random sequences of
// DISCOVER, REQUEST (every state), DECLINE, RELEASE and INFORM from a few
// clients over a pool smaller than their number, concurrent across clients, with time passing and the
// sweeper running. Each client behaves as RFC 2131 says a client does, and
// after every step:
// - no address is held (ACKed and not yet expired) by two clients at once;
// - a reserved address is only ever offered or ACKed to its MAC;
// - every binding a client holds is in the store, bound to that client.
import t from 'tap';
import fc from 'fast-check';
import { getOption } from '../../../protocols/dhcp/index.js';
import { createDhcpService } from '../../../src/dhcp/index.js';
import { keyOf, type Lease } from '../../../src/model/index.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put } from '../../../src/store/store.js';
import { frame, mac, parseReply, quiet, reservation, testNetwork, type FrameSpec, type MessageType, type ParsedReply } from './client.js';

const NET = 'acme/web';
const SERVER = '192.0.2.1';
const CLIENTS = 7;
const RESERVED: Record<string, string> = { [mac(0)]: '192.0.2.50', [mac(1)]: '192.0.2.101' };

type Kind = 'next' | 'discover' | 'select' | 'reboot' | 'renew' | 'rebind' | 'decline' | 'release' | 'inform' | 'wrong-server';
type Step =
  | { kind: 'act'; actions: { client: number; what: Kind; pick: number }[] }
  | { kind: 'tick'; ms: number }
  | { kind: 'sweep' };

const kinds: Kind[] = ['discover', 'select', 'reboot', 'renew', 'rebind', 'decline', 'release', 'inform', 'wrong-server'];
/** Mostly what a client does next (DISCOVER, then REQUEST, then renew), sometimes anything. */
const kind: fc.Arbitrary<Kind> = fc.oneof({ weight: 3, arbitrary: fc.constant('next' as const) }, { weight: 2, arbitrary: fc.constantFrom(...kinds) });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('act' as const), actions: fc.uniqueArray(fc.record({ client: fc.nat(CLIENTS - 1), what: kind, pick: fc.nat(5) }), { minLength: 1, maxLength: 4, selector: (a) => a.client }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 2 * 3_600_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

interface ClientState {
  offer?: string;
  bound?: { ip: string; expiresAt: number };
  xid: number;
}

t.test('random traffic never double-leases, never leaks a reservation, never ACKs what is not stored', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
      let now = 1_700_000_000_000;
      const store = await openSqliteStore(':memory:');
      const network = testNetwork({
        subnets: [{ cidr: '192.0.2.0/24', gateway: SERVER, ranges: [{ start: '192.0.2.100', end: '192.0.2.103' }], leaseTime: 600 }],
      });
      const ops = [put('network', keyOf('network', network), network)];
      for (const [m, ip] of Object.entries(RESERVED)) {
        const r = reservation(m, ip);
        ops.push(put('reservation', keyOf('reservation', r), r));
      }
      await store.commit(ops);
      const dhcp = createDhcpService({ store, log: quiet, now: () => now, sweepIntervalMs: 0, rateLimit: { burst: 1e9 } });
      const clients: ClientState[] = Array.from({ length: CLIENTS }, () => ({ xid: 1 }));
      const replies: { to: string; reply: ParsedReply }[] = [];

      const send = async (c: number, type: MessageType, spec: Omit<FrameSpec, 'mac'>) => {
        const m = mac(c);
        const out = await dhcp.handle({ network: NET, host: 'hv1', port: `p${c}`, frame: frame(type, { mac: m, xid: clients[c]!.xid++, ...spec }) });
        const parsed = out?.map(parseReply)[0];
        if (parsed) replies.push({ to: m, reply: parsed });
        return parsed;
      };
      const bindFrom = (s: ClientState, r: ParsedReply | undefined) => {
        if (r?.type === 'ACK') s.bound = { ip: r.message.yiaddr, expiresAt: now + getOption(r.message, 'leaseTime')! * 1000 };
        else if (r?.type === 'NAK') s.bound = undefined;
      };

      const act = async (c: number, what: Kind, pick: number) => {
        const s = clients[c]!;
        if (s.bound && s.bound.expiresAt <= now) s.bound = undefined;
        const next: Kind = s.offer ? 'select' : s.bound ? 'renew' : 'discover';
        switch (what === 'next' ? next : what) {
          case 'discover': {
            const r = await send(c, 'DISCOVER', pick < 3 ? { requestedIp: `192.0.2.${100 + pick}` } : {});
            if (r?.type === 'OFFER') s.offer = r.message.yiaddr;
            return;
          }
          case 'select': {
            if (!s.offer) return;
            const ip = s.offer;
            s.offer = undefined;
            return bindFrom(s, await send(c, 'REQUEST', { serverId: SERVER, requestedIp: ip }));
          }
          case 'wrong-server':
            if (s.offer) await send(c, 'REQUEST', { serverId: '192.0.2.254', requestedIp: s.offer });
            s.offer = undefined;
            return;
          case 'reboot':
            return bindFrom(s, await send(c, 'REQUEST', { requestedIp: s.bound?.ip ?? `192.0.2.${100 + pick}` }));
          case 'renew':
            if (s.bound) bindFrom(s, await send(c, 'REQUEST', { ciaddr: s.bound.ip, ipDst: SERVER }));
            return;
          case 'rebind':
            if (s.bound) bindFrom(s, await send(c, 'REQUEST', { ciaddr: s.bound.ip }));
            return;
          case 'decline':
            if (s.bound) {
              const ip = s.bound.ip;
              s.bound = undefined;
              await send(c, 'DECLINE', { serverId: SERVER, requestedIp: ip });
            }
            return;
          case 'release':
            if (s.bound) {
              const ip = s.bound.ip;
              s.bound = undefined;
              await send(c, 'RELEASE', { serverId: SERVER, ciaddr: ip, ipDst: SERVER });
            }
            return;
          case 'inform':
            if (s.bound) await send(c, 'INFORM', { ciaddr: s.bound.ip, ipDst: SERVER });
            return;
        }
      };

      try {
        for (const st of steps) {
          if (st.kind === 'tick') now += st.ms;
          else if (st.kind === 'sweep') await dhcp.sweep();
          else await Promise.all(st.actions.map((a) => act(a.client, a.what, a.pick)));

          const holders = new Map<string, number>();
          for (let c = 0; c < CLIENTS; c++) {
            const b = clients[c]!.bound;
            if (!b || b.expiresAt <= now) continue;
            if (holders.has(b.ip)) throw new Error(`${b.ip} held by clients ${holders.get(b.ip)} and ${c}`);
            holders.set(b.ip, c);
            const stored = (await store.get('lease', `${NET}/${b.ip}`))?.value as Lease | undefined;
            if (!stored || stored.state !== 'bound' || stored.mac !== mac(c) || stored.expiresAt < b.expiresAt) {
              throw new Error(`client ${c} holds ${b.ip} but the store has ${JSON.stringify(stored)}`);
            }
          }
          for (const { to, reply } of replies) {
            for (const [m, ip] of Object.entries(RESERVED)) {
              if (reply.message.yiaddr === ip && to !== m) throw new Error(`reserved ${ip} went to ${to}`);
            }
          }
        }
        const report = await store.check();
        if (!report.ok) throw new Error(report.problems.join('; '));
      } finally {
        await dhcp.close();
        await store.close();
      }
    }),
    { numRuns: 200 },
  );
  t.pass('the properties held');
});
