// What `weft dhcp stats` and the dhcp line of `weft status` print, without a daemon.
import t from 'tap';
import { dhcpStatsText, dhcpSummaryLine } from '../../../src/cli/commands/dhcp.js';

const none = { count: 0, sumMs: 0, maxMs: 0, buckets: [] };
const stats = {
  replicaId: 'replica-1', since: Date.UTC(2026, 10, 23, 19), received: 21, malformed: 0, ignored: 0, spoofed: 0, rateLimited: 0,
  notLeader: 1, fenced: 0, unknownNetwork: 0, offers: 10, acks: 9, naks: 1, silent: 0, writes: 9, conflicts: 0, storeErrors: 0, errors: 0,
  paths: { 'selecting-ack': 9, 'discover-offer': 10, 'selecting-nak': 1 },
  latency: { leaseWrite: { count: 9, sumMs: 18, maxMs: 5, p50Ms: 1.2, p99Ms: 4.9, buckets: [{ leMs: 1.18921, count: 9 }] }, answer: none },
};

t.test('weft dhcp stats: the counters, a latency table and the paths by name', async (t) => {
  t.equal(
    dhcpStatsText(stats),
    [
      'DHCP on replica-1 since 2026-11-23T19:00:00Z',
      'received 21: offers 10, ACKs 9, NAKs 1, silent 0',
      'not answered: not-leader 1, rate-limited 0, fenced 0, unknown-network 0, malformed 0, ignored 0, spoofed 0',
      'lease writes 9, conflicts 0, store errors 0; errors 0',
      '',
      'LATENCY      COUNT  P50 MS  P99 MS  MAX MS  MEAN MS',
      'lease write  9      1.2     4.9     5       2',
      'answer       0      -       -       -       -',
      '',
      'PATH            COUNT',
      'discover-offer  10',
      'selecting-ack   9',
      'selecting-nak   1',
      '',
    ].join('\n'),
  );
});

t.test('weft status: one line, a dash for a percentile with nothing recorded', async (t) => {
  t.equal(dhcpSummaryLine({ offers: 1, acks: 0, naks: 0, answerP99Ms: 0.5 }), 'dhcp: offers 1, ACKs 0, NAKs 0; p99 lease write -, answer 0.5 ms');
});
