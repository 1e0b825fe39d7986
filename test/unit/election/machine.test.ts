// The per-network state machine on its own: events in, state and actions out,
// time only as the `now` of each event.
import t from 'tap';
import {
  answering, confirmEveryMs, confirmMs, entryOf, initialElection, masterDownMs, nextDeadline, quietGraceMs, skewMs, step,
  type ElectionEvent, type MachineConfig, type NetworkElection,
} from '../../../src/election/machine.js';

const config: MachineConfig = { replicaId: 'replica-b', intervalMs: 100, preempt: true, preemptDelayMs: 0 };
const NET = 'acme/web';

function run(s: NetworkElection, events: [number, ElectionEvent][], c = config) {
  const actions = [];
  for (const [now, e] of events) {
    const r = step(s, e, now, c);
    s = r.state;
    actions.push(...r.actions);
  }
  return { s, actions };
}

const advert = (from: string, priority: number, term: number, leader: boolean): ElectionEvent => ({ type: 'advert', from, intervalMs: 100, entry: { priority, term, leader } });

t.test('master-down is VRRPv3\'s 3 intervals + skew, the skew a quarter of VRRP\'s (backups hear each other)', async (t) => {
  t.equal(skewMs(100, 1000), 609.375 / 4);
  t.equal(masterDownMs(100, 1000), 3000 + 609.375 / 4);
  t.equal(masterDownMs(255, 100), 300 + 100 / 1024);
  t.equal(masterDownMs(1, 100), 300 + 255 * 100 / 1024, 'the longest is still under 3.25 intervals');
});

t.test('a lone replica claims after the master-down interval and leads only once the claim succeeds', async (t) => {
  const { state } = initialElection(NET, 100, 0, config);
  t.equal(nextDeadline(state, 0, config), masterDownMs(100, 100));
  const early = step(state, { type: 'tick' }, 100, config);
  t.same(early.actions, []);
  const fired = step(state, { type: 'tick' }, masterDownMs(100, 100), config);
  t.same(fired.actions, [{ type: 'claim', network: NET, seen: 0 }]);
  t.equal(fired.state.role, 'claiming');
  const led = step(fired.state, { type: 'claimed', term: 1 }, 400, config);
  t.equal(led.state.role, 'leader');
  t.same(led.actions, [{ type: 'leader', network: NET, term: 1 }, { type: 'advertNow' }]);
});

t.test('a claim that fails leaves a backup that waits before claiming again', async (t) => {
  const { state } = initialElection(NET, 100, 0, config);
  const { s } = run(state, [[400, { type: 'tick' }], [401, { type: 'claimFailed', term: 7, reason: 'fenced' }]]);
  t.equal(s.role, 'backup');
  t.equal(s.term, 7);
  t.equal(s.masterDownAt, 401 + masterDownMs(100, 100));
});

t.test("a leader's adverts hold the backup; silence past the master-down interval does not", async (t) => {
  const { state } = initialElection(NET, 100, 0, config);
  const held = run(state, [[0, advert('replica-a', 200, 1, true)], [300, advert('replica-a', 200, 1, true)], [600, { type: 'tick' }]]);
  t.equal(held.s.role, 'backup');
  t.equal(held.s.masterDownAt, 300 + masterDownMs(100, 100));
  const down = step(held.s, { type: 'tick' }, held.s.masterDownAt!, config);
  t.same(down.actions, [{ type: 'claim', network: NET, seen: 1 }]);
});

t.test('news of a newer term from a backup holds the timer: the leader that claimed it is heard before any claim', async (t) => {
  // A replica back from a partition, its master-down timer nearly run out:
  // a backup's advert brings the term the leader took meanwhile, before the
  // leader's own advert arrives. Claiming on that term would depose a live
  // leader (a flap, with or without preempt).
  const c = { ...config, replicaId: 'replica-c', preempt: false };
  const mdi = masterDownMs(100, 100);
  const { state } = initialElection(NET, 100, 0, c);
  const back = run(state, [[mdi - 10, advert('replica-a', 100, 9, false)], [mdi, { type: 'tick' }]], c);
  t.same(back.actions, [], 'no claim when the timer would have run out');
  t.equal(back.s.masterDownAt, mdi - 10 + mdi);
  const heard = run(back.s, [[mdi + 50, advert('replica-b', 100, 9, true)], [mdi - 10 + mdi, { type: 'tick' }]], c);
  t.same(heard.actions, [], 'then the leader is heard, and holds it');
  t.equal(heard.s.term, 9);
  const silent = step(back.s, { type: 'tick' }, back.s.masterDownAt!, c);
  t.same(silent.actions, [{ type: 'claim', network: NET, seen: 9 }], 'a leader never heard is taken over from, one master-down interval later');
});

t.test('a backup that is not the best live candidate waits one more interval for it, then claims anyway', async (t) => {
  const { state } = initialElection(NET, 100, 0, config);
  const mdi = masterDownMs(100, 100);
  const first = run(state, [[mdi - 10, advert('replica-c', 150, 0, false)], [mdi, { type: 'tick' }]]);
  t.same(first.actions, [], 'replica-c is better and alive: wait');
  t.ok(first.s.deferred);
  const second = step(first.s, { type: 'tick' }, first.s.masterDownAt!, config);
  t.same(second.actions, [{ type: 'claim', network: NET, seen: 0 }]);
});

t.test('priority 0 from the leader: take over after the skew time', async (t) => {
  const { state } = initialElection(NET, 100, 0, config);
  const { s } = run(state, [[0, advert('replica-a', 200, 1, true)], [50, advert('replica-a', 0, 1, false)]]);
  t.equal(s.masterDownAt, 50 + skewMs(100, 100));
});

t.test('preempt claims against a worse leader after the delay; nopreempt never does', async (t) => {
  const c = { ...config, preemptDelayMs: 500 };
  const { state } = initialElection(NET, 200, 0, c);
  const seen = run(state, [[10, advert('replica-a', 100, 4, true)]], c);
  t.equal(seen.s.preemptAt, 510);
  t.same(step(seen.s, { type: 'tick' }, 510, c).actions, [{ type: 'claim', network: NET, seen: 4 }]);
  const no = { ...c, preempt: false };
  const calm = run(initialElection(NET, 200, 0, no).state, [[10, advert('replica-a', 100, 4, true)], [200, advert('replica-a', 100, 4, true)]], no);
  t.equal(calm.s.preemptAt, undefined);
});

t.test('after a preemption the new leader answers only once the deposed leader says it stepped down, or one interval on', async (t) => {
  const { state } = initialElection(NET, 200, 0, config);
  const claiming = run(state, [[10, advert('replica-a', 100, 4, true)], [10, { type: 'tick' }]]);
  t.same(claiming.actions.at(-1), { type: 'claim', network: NET, seen: 4 });
  const led = step(claiming.s, { type: 'claimed', term: 5, at: 10 }, 12, config).state;
  t.equal(led.role, 'leader');
  t.notOk(answering(led, 12), 'leading, but replica-a may still answer until our advert reaches it');
  t.notOk(answering(step(led, advert('replica-a', 100, 4, true), 13, config).state, 13), 'an advert of its old lead changes nothing');
  const heard = step(led, advert('replica-a', 100, 5, false), 14, config).state;
  t.ok(answering(heard, 14), 'it says it no longer leads: we answer');
  t.notOk(answering(led, 12 + 99));
  t.ok(answering(led, 12 + 100), 'never heard: we answer one interval after the claim');
  const takeover = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [401, { type: 'claimed', term: 1 }]]).s;
  t.ok(answering(takeover, 401), 'a takeover from a dead or absent leader answers at once');
});

t.test('a leader steps down at once on a larger term or a fenced write, and not on a smaller one', async (t) => {
  const leader = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [401, { type: 'claimed', term: 3 }]]).s;
  t.equal(step(leader, advert('replica-a', 200, 2, true), 500, config).state.role, 'leader');
  const higher = step(leader, advert('replica-a', 50, 4, true), 500, config);
  t.equal(higher.state.role, 'backup');
  t.same(higher.actions, [{ type: 'backup', network: NET, term: 4, reason: 'higher-term' }]);
  const fenced = step(leader, { type: 'fenced', term: 3 }, 500, config);
  t.same(fenced.actions, [{ type: 'backup', network: NET, term: 3, reason: 'fenced' }]);
  t.equal(step(leader, { type: 'fenced', term: 2 }, 500, config).state.role, 'leader', 'an old term fenced is not ours');
});

t.test('a claim that succeeds after a newer term was seen does not lead', async (t) => {
  const { s } = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [401, advert('replica-a', 200, 5, true)], [402, { type: 'claimed', term: 1 }]]);
  t.equal(s.role, 'backup');
  t.equal(s.term, 5);
});

t.test('shutdown: priority 0 in the advert, backup notified when leading', async (t) => {
  const leader = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [401, { type: 'claimed', term: 1 }]]).s;
  const down = step(leader, { type: 'shutdown' }, 500, config);
  t.same(down.actions, [{ type: 'backup', network: NET, term: 1, reason: 'shutdown' }, { type: 'advertNow' }]);
  t.equal(down.state.role, 'stopped');
  t.equal(nextDeadline(down.state, 500, config), undefined);
});

t.test('a leader answers only while the store confirms its term: 1.5 intervals from the last read sent', async (t) => {
  const claimed = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [405, { type: 'claimed', term: 3, at: 400 }]]).s;
  t.equal(claimed.confirmedUntil, 400 + confirmMs(100), 'the claim itself counts from when it was sent');
  t.equal(nextDeadline(claimed, 405, config), 400 + confirmMs(100));
  const kept = run(claimed, [[500, { type: 'confirmed', term: 3, at: 490 }], [600, { type: 'tick' }]]).s;
  t.equal(kept.role, 'leader');
  t.ok(answering(kept, 600));
  t.equal(kept.confirmedUntil, 490 + confirmMs(100));
  t.notOk(answering(kept, 490 + confirmMs(100)), 'not a moment past the window, even before a tick');
});

t.test('a leader whose reads are late goes quiet, answers again when one confirms its term, and steps down after the quiet grace', async (t) => {
  const leader = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [401, { type: 'claimed', term: 3, at: 400 }]]).s;
  const lapse = 400 + confirmMs(100);
  const quiet = step(leader, { type: 'tick' }, lapse, config);
  t.equal(quiet.state.role, 'leader', 'still the leader: its adverts keep the backups from a needless fail-over');
  t.ok(quiet.state.quiet);
  t.notOk(answering(quiet.state, lapse));
  t.same(quiet.actions, [{ type: 'quiet', network: NET, term: 3, quiet: true }]);
  t.same(entryOf(quiet.state), { priority: 100, term: 3, leader: true });
  t.equal(nextDeadline(quiet.state, lapse, config), lapse + quietGraceMs(100), 'its next deadline is the end of the grace');
  t.same(step(quiet.state, { type: 'tick' }, lapse + 10, config).actions, [], 'quiet is announced once');

  const late = step(quiet.state, { type: 'confirmed', term: 3, at: lapse - 100 }, lapse + 60, config);
  t.ok(late.state.quiet, 'a read that comes back after its own window confirms nothing to answer on');
  t.same(late.actions, []);
  const back = step(late.state, { type: 'confirmed', term: 3, at: lapse + 20 }, lapse + 70, config);
  t.notOk(back.state.quiet);
  t.ok(answering(back.state, lapse + 70), 'a read sent within the last 1.5 intervals: answering again');
  t.same(back.actions, [{ type: 'quiet', network: NET, term: 3, quiet: false }]);

  const graceEnd = lapse + quietGraceMs(100);
  t.equal(step(quiet.state, { type: 'tick' }, graceEnd - 1, config).state.role, 'leader');
  const lapsed = step(quiet.state, { type: 'tick' }, graceEnd, config);
  t.equal(lapsed.state.role, 'backup');
  t.same(lapsed.actions, [{ type: 'backup', network: NET, term: 3, reason: 'unconfirmed' }]);
  t.equal(lapsed.state.term, 3, 'the next claim starts from the term it held');
  t.notOk(lapsed.state.quiet);

  const higher = step(quiet.state, { type: 'confirmed', term: 4, at: lapse + 10 }, lapse + 20, config);
  t.same(higher.actions, [{ type: 'backup', network: NET, term: 4, reason: 'higher-term' }], 'a read showing a newer term ends it at once');
});

t.test('the lease ends half an interval before any backup may take over after the same cut', async (t) => {
  for (const interval of [10, 50, 100, 1000]) {
    // The backup heard the last advert up to one interval before the cut; the leader's last read may have been sent at the cut.
    t.ok(confirmMs(interval) + interval / 2 <= masterDownMs(255, interval) - interval, `interval ${interval}`);
    // Reads go every half interval: a read that takes up to one interval keeps a healthy leader leading.
    t.equal(confirmMs(interval) - confirmEveryMs(interval), interval, `interval ${interval}: one interval for a read to come back`);
  }
});

t.test('a term read that shows a larger term steps down; an older answer or a smaller term extends nothing', async (t) => {
  const leader = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [401, { type: 'claimed', term: 3, at: 400 }]]).s;
  const higher = step(leader, { type: 'confirmed', term: 4, at: 450 }, 460, config);
  t.equal(higher.state.role, 'backup');
  t.same(higher.actions, [{ type: 'backup', network: NET, term: 4, reason: 'higher-term' }]);
  t.equal(step(leader, { type: 'confirmed', term: 2, at: 450 }, 460, config).state.confirmedUntil, leader.confirmedUntil);
  t.equal(step(leader, { type: 'confirmed', term: 3, at: 300 }, 460, config).state.confirmedUntil, leader.confirmedUntil, 'a late answer to an older read');
  const backup = initialElection(NET, 100, 0, config).state;
  t.equal(step(backup, { type: 'confirmed', term: 9, at: 10 }, 20, config).state.term, 9);
});

t.test('a claim that comes back after its lease is over does not lead', async (t) => {
  const { s, actions } = run(initialElection(NET, 100, 0, config).state, [[400, { type: 'tick' }], [400 + confirmMs(100), { type: 'claimed', term: 1, at: 400 }]]);
  t.equal(s.role, 'backup');
  t.equal(s.term, 1);
  t.notOk(actions.some((a) => a.type === 'leader'));
});
