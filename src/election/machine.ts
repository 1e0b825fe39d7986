// The election of one network's leader, as a pure state machine: events in
// (an advert entry from a peer, a deadline passed, the local priority
// changed, the outcome of a term claim, a fenced write, shutdown), the next
// state and actions out (claim a term, became leader, became backup, send an
// advert now). It reads no clock: `now` comes with each event, and the
// timers it wants are the deadlines in its state (see nextDeadline), which
// the shell arms. VRRPv3 semantics (RFC 5798), adapted to adverts that every
// replica sends for every network:
//
// - The live replica with the highest priority for the network leads; equal
//   priorities go to the larger replica id (VRRP: the larger address).
// - A backup that hears no advert from the leader for the master-down
//   interval, 3 × interval + skew, takes over. VRRP's skew, (256 − priority)
//   × interval / 256, staggers backups that cannot hear each other; weft's
//   backups advertise, so the best live candidate is known and claims alone,
//   and the skew is a quarter of VRRP's: (256 − priority) × interval / 1024.
//   It still orders backups whose views differ (a lost advert), and it adds
//   to the margin between a cut-off leader's own deadline and the earliest
//   takeover (below). News of a newer term, from any peer, restarts that
//   interval too: the replica that claimed it may lead, and be heard a
//   moment later. A backup that is not the best live candidate when its
//   timer fires waits one more interval for the better one to take over, and
//   then claims anyway (the term makes that safe).
// - A leader advertising priority 0 is leaving: backups take over after
//   their skew time only.
// - preempt: a backup better than the live leader, and the best live
//   candidate, claims after the preempt delay. nopreempt: it waits for the
//   leader to die or leave. A leader that preempted a live one leads but
//   does not answer (`answering`) until the deposed leader's advert says it
//   stepped down, at most one interval: the deposed one answers until our
//   advert reaches it, and a request must not get two answers.
// - Leading means holding a term: a replica claims `term + 1` in the store
//   (claimTerm) and leads only once that succeeds. It steps down at once on
//   an advert with a larger term or when a write of its is fenced. A
//   replica that cannot claim (store unreachable or someone was faster)
//   stays a backup.
// - Leading also means confirming the term: the shell reads the store's term
//   every half interval (`confirmed`, stamped with the time the read was
//   sent), and a leader whose term has not been confirmed for confirmMs, 1.5
//   intervals, goes quiet: it stops answering (`answering`) but keeps
//   leading, so a read that is merely late (a loaded store or event loop)
//   costs a moment of silence, not a fail-over. A backup's master-down timer
//   runs from the last advert it got, at most one interval before the cut,
//   so the earliest takeover is 2 intervals + skew after the cut, while a
//   leader cut off from its peers and from the store stops answering at most
//   1.5 intervals after it: half an interval (and the skew) of margin for
//   late timers, whatever the priorities. Answering is tied to reads alone,
//   so that margin holds however long the leader stays quiet. A read that
//   confirms the term again ends the quiet; a leader quiet for
//   quietGraceMs, 2 intervals, steps down ('unconfirmed'): by then a cut-off
//   leader's backups have taken over, and a leader that reaches its peers
//   but not the store lets them. A leader cut off from its peers only reads
//   the backup's larger term and steps down then.

export interface MachineConfig {
  replicaId: string;
  intervalMs: number;
  preempt: boolean;
  preemptDelayMs: number;
}

export type Role = 'backup' | 'claiming' | 'leader' | 'stopped';

/** The last entry a peer advertised for this network. */
export interface PeerView {
  priority: number;
  term: number;
  leader: boolean;
  intervalMs: number;
  seenAt: number;
}

export interface NetworkElection {
  readonly network: string;
  readonly role: Role;
  /** Our effective priority for the network, 1..255 (tracking already applied). */
  readonly priority: number;
  /** The largest term of the network we know of. */
  readonly term: number;
  /** The term we hold while leader. */
  readonly leaderTerm: number | undefined;
  readonly since: number;
  readonly peers: ReadonlyMap<string, PeerView>;
  readonly masterDownAt: number | undefined;
  readonly preemptAt: number | undefined;
  /** The master-down timer already waited once for a better live candidate. */
  readonly deferred: boolean;
  /** After a failed claim, no new one before this time (a store that is down is not hammered). */
  readonly holdUntil: number;
  /** While leader: the term was last confirmed by the store early enough that we may answer until this time. */
  readonly confirmedUntil: number | undefined;
  /** While leader: confirmedUntil passed and no read has confirmed the term since; we lead but do not answer. */
  readonly quiet: boolean;
  /**
   * Claiming or leading after a preemption: the live leader we took over
   * from; while leading, we stay silent (`answering` is false) until its
   * advert says it stepped down, or `until`.
   */
  readonly deposing: { replica: string; until: number | undefined } | undefined;
}

export interface EntryIn {
  priority: number;
  term: number;
  leader: boolean;
}

export type ElectionEvent =
  | { type: 'advert'; from: string; intervalMs: number; entry: EntryIn }
  | { type: 'tick' }
  | { type: 'priority'; priority: number }
  /** `at`: when the claim was sent (the lease on the term runs from then); default now. */
  | { type: 'claimed'; term: number; at?: number }
  /** The store's term, read by a request sent at `at`. */
  | { type: 'confirmed'; term: number; at: number }
  /** `term`: the store's current term when the claim was fenced; absent when the store could not be reached. */
  | { type: 'claimFailed'; term?: number; reason: string }
  | { type: 'fenced'; term: number }
  | { type: 'shutdown' };

export type StepDownReason = 'higher-term' | 'fenced' | 'unconfirmed' | 'shutdown';

export type ElectionAction =
  | { type: 'claim'; network: string; seen: number }
  | { type: 'leader'; network: string; term: number }
  | { type: 'backup'; network: string; term: number; reason: StepDownReason | 'start' }
  /** The leader stopped answering (`quiet`: its term is not confirmed) or answers again. */
  | { type: 'quiet'; network: string; term: number; quiet: boolean }
  | { type: 'advertNow' };

export interface Step {
  state: NetworkElection;
  actions: ElectionAction[];
}

export function skewMs(priority: number, intervalMs: number): number {
  return ((256 - priority) * intervalMs) / 1024;
}

export function masterDownMs(priority: number, intervalMs: number): number {
  return 3 * intervalMs + skewMs(priority, intervalMs);
}

/** How long a confirmation of the term (or its claim) lets a leader lead without another. */
export function confirmMs(intervalMs: number): number {
  return 1.5 * intervalMs;
}

/** How long a leader stays quiet, its term unconfirmed, before it steps down. */
export function quietGraceMs(intervalMs: number): number {
  return 2 * intervalMs;
}

/** How often a leader reads its term back from the store (and a replica probes the store). */
export function confirmEveryMs(intervalMs: number): number {
  return intervalMs / 2;
}

/** A replica in `backup`, its master-down timer running from `now`. */
export function initialElection(network: string, priority: number, now: number, config: MachineConfig): Step {
  const state: NetworkElection = {
    network, role: 'backup', priority, term: 0, leaderTerm: undefined, since: now, peers: new Map(),
    masterDownAt: now + masterDownMs(priority, config.intervalMs), preemptAt: undefined, deferred: false, holdUntil: now,
    confirmedUntil: undefined, quiet: false, deposing: undefined,
  };
  return { state, actions: [{ type: 'backup', network, term: 0, reason: 'start' }] };
}

/** What we advertise for the network. */
export function entryOf(s: NetworkElection): EntryIn {
  if (s.role === 'leader') return { priority: s.priority, term: s.leaderTerm!, leader: true };
  return { priority: s.role === 'stopped' ? 0 : s.priority, term: s.term, leader: false };
}

/** Whether we answer for the network now: leading, the term confirmed, and no preempted leader still answering. */
export function answering(s: NetworkElection, now: number): boolean {
  if (s.role !== 'leader' || s.confirmedUntil === undefined || s.confirmedUntil <= now) return false;
  return s.deposing?.until === undefined || s.deposing.until <= now;
}

function liveFor(s: NetworkElection, p: PeerView): number {
  return masterDownMs(s.priority, p.intervalMs);
}

export function isLive(s: NetworkElection, p: PeerView, now: number): boolean {
  return now - p.seenAt < liveFor(s, p);
}

/** a beats b: higher priority, then larger id. */
function beats(a: { id: string; priority: number }, b: { id: string; priority: number }): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.id > b.id);
}

/** The live candidate that should lead: ourselves or a live peer with a priority above 0. */
export function bestCandidate(s: NetworkElection, now: number, config: MachineConfig): string {
  let best = { id: config.replicaId, priority: s.role === 'stopped' ? 0 : s.priority };
  for (const [id, p] of s.peers) {
    if (p.priority > 0 && isLive(s, p, now) && beats({ id, priority: p.priority }, best)) best = { id, priority: p.priority };
  }
  return best.id;
}

/** The live peer that leads at the newest term we know, if any. */
export function currentLeader(s: NetworkElection, now: number): { id: string; view: PeerView } | undefined {
  let found: { id: string; view: PeerView } | undefined;
  for (const [id, p] of s.peers) {
    if (p.leader && p.term >= s.term && isLive(s, p, now) && (!found || p.term > found.view.term)) found = { id, view: p };
  }
  return found;
}

/** The earliest time the machine wants a tick: its timers, and the moment a live peer would turn dead. */
export function nextDeadline(s: NetworkElection, now: number, config: MachineConfig): number | undefined {
  if (s.role === 'stopped') return undefined;
  let at: number | undefined;
  const consider = (t: number | undefined) => {
    if (t !== undefined && (at === undefined || t < at)) at = t;
  };
  consider(s.masterDownAt);
  consider(s.preemptAt);
  if (s.role === 'leader' && s.confirmedUntil !== undefined) consider(s.quiet ? s.confirmedUntil + quietGraceMs(config.intervalMs) : s.confirmedUntil);
  for (const p of s.peers.values()) if (isLive(s, p, now)) consider(p.seenAt + liveFor(s, p));
  return at;
}

function shouldPreempt(s: NetworkElection, now: number, config: MachineConfig): boolean {
  if (!config.preempt || s.role !== 'backup') return false;
  const leader = currentLeader(s, now);
  if (!leader || leader.view.priority === 0) return false;
  return beats({ id: config.replicaId, priority: s.priority }, { id: leader.id, priority: leader.view.priority }) && bestCandidate(s, now, config) === config.replicaId;
}

function withPreempt(s: NetworkElection, now: number, config: MachineConfig): NetworkElection {
  if (!shouldPreempt(s, now, config)) return s.preemptAt === undefined ? s : { ...s, preemptAt: undefined };
  return s.preemptAt === undefined ? { ...s, preemptAt: Math.max(now + config.preemptDelayMs, s.holdUntil) } : s;
}

/** `deposing`: the live leader a preemption takes the network from. */
function claim(s: NetworkElection, deposing?: string): Step {
  return {
    state: { ...s, role: 'claiming', masterDownAt: undefined, preemptAt: undefined, deferred: false, deposing: deposing === undefined ? undefined : { replica: deposing, until: undefined } },
    actions: [{ type: 'claim', network: s.network, seen: s.term }],
  };
}

function toBackup(s: NetworkElection, now: number, config: MachineConfig, term: number, reason: StepDownReason | undefined): Step {
  const state: NetworkElection = {
    ...s, role: 'backup', term: Math.max(s.term, term), leaderTerm: undefined, since: s.role === 'leader' ? now : s.since,
    masterDownAt: now + masterDownMs(s.priority, config.intervalMs), preemptAt: undefined, deferred: false, confirmedUntil: undefined,
    quiet: false, deposing: undefined,
  };
  const actions: ElectionAction[] = s.role === 'leader' && reason ? [{ type: 'backup', network: s.network, term: state.term, reason }] : [];
  return { state: withPreempt(state, now, config), actions };
}

function onAdvert(s: NetworkElection, e: Extract<ElectionEvent, { type: 'advert' }>, now: number, config: MachineConfig): Step {
  if (e.from === config.replicaId) return { state: s, actions: [] };
  const before = s.peers.get(e.from);
  const wasLeader = before !== undefined && before.leader && before.term >= s.term;
  const peers = new Map(s.peers);
  peers.set(e.from, { ...e.entry, intervalMs: e.intervalMs, seenAt: now });
  let state: NetworkElection = { ...s, peers, term: Math.max(s.term, e.entry.term) };

  if (s.role === 'leader') {
    if (e.entry.term > s.leaderTerm!) return toBackup(state, now, config, e.entry.term, 'higher-term');
    // The leader we preempted says it no longer leads: from now on only we answer.
    if (s.deposing?.replica === e.from && !e.entry.leader) state = { ...state, deposing: undefined };
    return { state, actions: [] };
  }
  if (s.role !== 'backup') return { state, actions: [] };

  if (e.entry.priority === 0 && (e.entry.leader || wasLeader)) {
    // The leader is leaving: take over after the skew time only.
    const at = now + skewMs(s.priority, config.intervalMs);
    state = { ...state, masterDownAt: Math.min(state.masterDownAt ?? at, at) };
  } else if ((e.entry.leader && e.entry.term >= state.term) || e.entry.term > s.term) {
    // A live leader, or news of a newer term (from any peer): whoever claimed
    // it may be leading and not yet heard (a replica back from a partition
    // hears the peers in any order), so a whole master-down interval first.
    state = { ...state, masterDownAt: now + masterDownMs(s.priority, config.intervalMs), deferred: false };
  }
  return { state: withPreempt(state, now, config), actions: [] };
}

function onTick(s: NetworkElection, now: number, config: MachineConfig): Step {
  if (s.role === 'leader' && s.confirmedUntil !== undefined && s.confirmedUntil <= now) {
    if (s.confirmedUntil + quietGraceMs(config.intervalMs) <= now) return toBackup(s, now, config, s.leaderTerm!, 'unconfirmed');
    if (!s.quiet) return { state: { ...s, quiet: true }, actions: [{ type: 'quiet', network: s.network, term: s.leaderTerm!, quiet: true }] };
  }
  if (s.role !== 'backup') return { state: s, actions: [] };
  if (s.preemptAt !== undefined && s.preemptAt <= now) {
    if (shouldPreempt(s, now, config)) return claim(s, currentLeader(s, now)!.id);
    s = { ...s, preemptAt: undefined };
  }
  if (s.masterDownAt !== undefined && s.masterDownAt <= now) {
    if (s.deferred || bestCandidate(s, now, config) === config.replicaId) return claim(s);
    s = { ...s, deferred: true, masterDownAt: now + masterDownMs(s.priority, config.intervalMs) };
  }
  return { state: withPreempt(s, now, config), actions: [] };
}

export function step(s: NetworkElection, event: ElectionEvent, now: number, config: MachineConfig): Step {
  if (s.role === 'stopped') {
    return event.type === 'claimed' || event.type === 'claimFailed' || event.type === 'confirmed'
      ? { state: { ...s, term: Math.max(s.term, event.term ?? 0) }, actions: [] }
      : { state: s, actions: [] };
  }
  switch (event.type) {
    case 'advert':
      return onAdvert(s, event, now, config);
    case 'tick':
      return onTick(s, now, config);
    case 'priority': {
      const priority = Math.max(1, Math.min(255, Math.round(event.priority)));
      return { state: withPreempt({ ...s, priority }, now, config), actions: [] };
    }
    case 'claimed': {
      if (s.role !== 'claiming') return { state: { ...s, term: Math.max(s.term, event.term) }, actions: [] };
      if (s.term >= event.term) {
        // A newer term appeared while we claimed: what we hold is already stale.
        return toBackup({ ...s, term: Math.max(s.term, event.term) }, now, config, s.term, undefined);
      }
      const confirmedUntil = (event.at ?? now) + confirmMs(config.intervalMs);
      if (confirmedUntil <= now) {
        // The claim took so long that the lease it gave is already over: leading now could overlap a successor.
        return toBackup({ ...s, term: event.term }, now, config, event.term, undefined);
      }
      // A preempted leader answers until our advert reaches it: one interval of silence at most, so no request gets two answers.
      const deposing = s.deposing && { replica: s.deposing.replica, until: now + config.intervalMs };
      return {
        state: { ...s, role: 'leader', term: event.term, leaderTerm: event.term, since: now, masterDownAt: undefined, preemptAt: undefined, confirmedUntil, deposing },
        actions: [{ type: 'leader', network: s.network, term: event.term }, { type: 'advertNow' }],
      };
    }
    case 'confirmed': {
      if (s.role !== 'leader') return { state: { ...s, term: Math.max(s.term, event.term) }, actions: [] };
      if (event.term > s.leaderTerm!) return toBackup(s, now, config, event.term, 'higher-term');
      // A smaller term than ours would mean the store lost our claim: it confirms nothing.
      if (event.term < s.leaderTerm!) return { state: s, actions: [] };
      const until = event.at + confirmMs(config.intervalMs);
      if (until <= (s.confirmedUntil ?? 0)) return { state: s, actions: [] };
      // A read that comes back after its own window confirms nothing we may answer on.
      if (s.quiet && until > now) {
        return { state: { ...s, confirmedUntil: until, quiet: false }, actions: [{ type: 'quiet', network: s.network, term: s.leaderTerm!, quiet: false }] };
      }
      return { state: { ...s, confirmedUntil: until }, actions: [] };
    }
    case 'claimFailed':
      if (s.role !== 'claiming') return { state: { ...s, term: Math.max(s.term, event.term ?? 0) }, actions: [] };
      return toBackup({ ...s, holdUntil: now + masterDownMs(s.priority, config.intervalMs) }, now, config, event.term ?? s.term, undefined);
    case 'fenced':
      if (s.role === 'leader' && event.term >= s.leaderTerm!) {
        return toBackup(s, now, config, event.term, 'fenced');
      }
      return { state: { ...s, term: Math.max(s.term, event.term) }, actions: [] };
    case 'shutdown': {
      const actions: ElectionAction[] = s.role === 'leader' ? [{ type: 'backup', network: s.network, term: s.leaderTerm!, reason: 'shutdown' }] : [];
      actions.push({ type: 'advertNow' });
      return {
        state: {
          ...s, role: 'stopped', term: Math.max(s.term, s.leaderTerm ?? 0), leaderTerm: undefined, since: now, masterDownAt: undefined, preemptAt: undefined,
          confirmedUntil: undefined, quiet: false, deposing: undefined,
        },
        actions,
      };
    }
  }
}
