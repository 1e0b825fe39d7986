// The forwarding plane: switch sessions by datapath id, flow sync on connect
// (with replicas, by the switch's flow writer only, see role.ts)
// and on demand, a periodic audit that repairs hand-made drift, and the
// packet-in path (bounded queue per switch, then the subscribers) with its
// packet-out counterpart. What a switch should hold comes from `desiredFor`,
// which the composition root wires to the pipeline; a switch whose desired
// flows are not known yet (undefined) is left alone, never emptied.
import type { Socket } from 'node:net';
import { isPassive, type Target } from '../config/target.js';
import type { Logger } from '../log.js';
import type { Listener, Plane } from '../main.js';
import { output, OFP_NO_BUFFER, OFPET, OFPP } from '../../protocols/openflow/index.js';
import { SwitchDialer, SwitchListener, type TlsFiles } from './listener.js';
import { PacketInDispatcher, PacketInQueue, toEvent, type PacketInCounters, type PacketInHandler, type PacketInLimits } from './packet-in.js';
import { claimRole, EQUAL, sameRole, type RoleClaim } from './role.js';
import { OpenFlowError, Session, type SessionOptions } from './session.js';
import { applyDiff, diffFlows, diffSize, readOwnedFlows, SyncError, WEFT_COOKIES, type CookieSpace, type Flow, type SyncResult } from './sync.js';

export interface OpenflowPlaneOptions {
  targets: Target[];
  log: Logger;
  /** The flows a switch should hold; undefined while that is not known (the switch is then not synced). */
  desiredFor(dpid: bigint): Flow[] | undefined;
  /** The host a datapath belongs to, from the OVSDB replica. */
  hostOf?(dpid: bigint): string | undefined;
  cookies?: CookieSpace;
  /** Milliseconds between audits of every switch (0: no audit). Default 60 s. */
  auditInterval?: number;
  session?: Omit<SessionOptions, 'peer' | 'role'>;
  role?: RoleClaim;
  /**
   * With replicas: whether this replica writes a switch's flows, and with
   * which role claim (MASTER at the writer's term); undefined while another
   * replica writes them, and this one stays EQUAL and only reads them (a
   * sync then confirms only what the switch already holds). Absent: this
   * replica writes every switch's flows in the role of `role`.
   */
  writeRole?(dpid: bigint): RoleClaim | undefined;
  /** The switch refused this replica's claim as stale, or its flow-mods as from a slave: it no longer writes there. */
  onRoleRefused?(dpid: bigint, claim: RoleClaim): void;
  packetIn?: PacketInLimits;
  tls?: TlsFiles;
  /** Redial backoff for active targets, ms. */
  backoff?: { min: number; max: number };
}

export interface SwitchInfo {
  dpid: bigint;
  host: string | undefined;
  peer: string;
  packetIns: PacketInCounters;
  /** Flow-mods sent to this switch by syncs since it connected. */
  flowMods: number;
  syncs: number;
  lastSync: SyncResult | undefined;
}

export interface PacketOut {
  /** The port the frame is said to come from (default: the controller). */
  inPort?: number;
  outPort: number;
  frame: Uint8Array;
}

export interface PlaneEvents {
  connected: (dpid: bigint) => void;
  disconnected: (dpid: bigint, reason: string) => void;
  synced: (dpid: bigint, result: SyncResult) => void;
}

/** A sync by a replica that does not write the switch's flows found them different from what it computes. */
export class NotWriterError extends SyncError {
  override name = 'NotWriterError';
}

export interface OpenflowPlane extends Plane {
  /** Claims the role writeRole names for the switch now, if it changed, and syncs when it became the writer. */
  reclaim(dpid: bigint): Promise<void>;
  /** reclaim for every connected switch. */
  reclaimAll(): void;
  /** Brings a switch to its desired flows; resolves once the switch confirmed with a barrier. */
  sync(dpid: bigint): Promise<SyncResult>;
  /** Syncs every connected switch. */
  syncAll(): Promise<Map<bigint, SyncResult | Error>>;
  switches(): SwitchInfo[];
  session(dpid: bigint): Session | undefined;
  onPacketIn(handler: PacketInHandler): () => void;
  packetOut(dpid: bigint, p: PacketOut): void;
  on<K extends keyof PlaneEvents>(event: K, fn: PlaneEvents[K]): void;
}

/** One sync at a time per switch; a request during a sync gets the next one, which reads the desired flows afresh. */
class Syncer {
  private running: Promise<SyncResult> | undefined;
  private queued: Promise<SyncResult> | undefined;

  constructor(private readonly run: () => Promise<SyncResult>) {}

  request(): Promise<SyncResult> {
    if (!this.running) {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.request();
      });
    return this.queued;
  }
}

interface Switch {
  dpid: bigint;
  session: Session;
  queue: PacketInQueue;
  syncer: Syncer;
  flowMods: number;
  syncs: number;
  lastSync: SyncResult | undefined;
  bundles: boolean;
  /** The role the switch granted this connection. */
  role: RoleClaim;
}

export const dpidText = (dpid: bigint): string => dpid.toString(16).padStart(16, '0');

export function createOpenflowPlane(opts: OpenflowPlaneOptions): OpenflowPlane {
  const log = opts.log;
  const cookies = opts.cookies ?? WEFT_COOKIES;
  const byDpid = new Map<bigint, Switch>();
  const sessions = new Set<Session>();
  const dispatcher = new PacketInDispatcher();
  const listeners: SwitchListener[] = [];
  const dialers: SwitchDialer[] = [];
  const handlers: { [K in keyof PlaneEvents]: PlaneEvents[K][] } = { connected: [], disconnected: [], synced: [] };
  let audit: NodeJS.Timeout | undefined;
  let stopped = false;

  // A reader's sync that finds the writer not done yet is expected while flows change: not worth a warning.
  const logSyncFailure = (dpid: bigint, err: Error, msg: string): void => {
    if (err instanceof NotWriterError) log.debug({ dpid: dpidText(dpid), err: err.message }, msg);
    else log.warn({ dpid: dpidText(dpid), err: err.message }, msg);
  };

  const emit = <K extends keyof PlaneEvents>(event: K, ...args: Parameters<PlaneEvents[K]>): void => {
    for (const fn of handlers[event]) (fn as (...a: Parameters<PlaneEvents[K]>) => void)(...args);
  };

  /** The claim this replica writes the switch's flows with; undefined when another replica writes them. */
  const writeRoleOf = (sw: Switch): RoleClaim | undefined => (opts.writeRole ? opts.writeRole(sw.dpid) : sw.role);

  async function runSync(sw: Switch): Promise<SyncResult> {
    const desired = opts.desiredFor(sw.dpid);
    if (desired === undefined) return { diff: { adds: 0, modifies: 0, deletes: 0 }, flowMods: 0, mode: 'none', errors: [] };
    const foreign = desired.find((f) => (f.cookie & cookies.mask) !== (cookies.value & cookies.mask));
    // A flow outside weft's cookies would never be read back: it would be re-added on every sync.
    if (foreign) throw new SyncError(`desired flow in table ${foreign.tableId} has cookie 0x${foreign.cookie.toString(16)}, outside weft's cookies`);
    const actual = await readOwnedFlows(sw.session, cookies);
    const diff = diffFlows(desired, actual);
    const claim = writeRoleOf(sw);
    // Writing takes the role writeRole names, granted: a replica whose MASTER claim is still on its way only reads.
    if (!claim || !sameRole(claim, sw.role)) {
      const pending = diffSize(diff);
      if (pending > 0) throw new NotWriterError(`${pending} flow(s) differ, and another replica writes this switch's flows`);
      return { diff: { adds: 0, modifies: 0, deletes: 0 }, flowMods: 0, mode: 'none', errors: [] };
    }
    const result = await applyDiff(sw.session, diff, cookies, { ordered: !sw.bundles });
    if (result.errors.some((e) => /IS_SLAVE/.test(e))) refused(sw, claim, true);
    if (result.bundlesUnsupported) sw.bundles = false;
    sw.flowMods += result.flowMods;
    sw.syncs++;
    sw.lastSync = result;
    if (result.flowMods > 0) log.info({ dpid: dpidText(sw.dpid), ...result.diff, mode: result.mode }, 'flows synced');
    for (const error of result.errors) log.warn({ dpid: dpidText(sw.dpid), error }, 'switch refused a flow');
    emit('synced', sw.dpid, result);
    return result;
  }

  /** `demoted`: the switch made this connection a SLAVE (another replica claimed MASTER at a newer generation). */
  function refused(sw: Switch, claim: RoleClaim, demoted: boolean): void {
    log.warn({ dpid: dpidText(sw.dpid), role: claim.role, generationId: claim.generationId?.toString() }, 'switch refused this replica as its flow writer');
    if (demoted) sw.role = { role: 'slave' };
    opts.onRoleRefused?.(sw.dpid, claim);
  }

  /** Claims writeRole's role if it differs from the one held; a writer then syncs (a sync writes only with the role granted). */
  async function reclaim(sw: Switch): Promise<void> {
    if (!opts.writeRole || sw.session.closed) return;
    const writes = opts.writeRole(sw.dpid);
    const want = writes ?? EQUAL;
    if (sameRole(want, sw.role)) return;
    try {
      sw.role = await claimRole(sw.session, want, sw.role.role);
      log.info({ dpid: dpidText(sw.dpid), role: want.role, generationId: want.generationId?.toString() }, 'switch role claimed');
    } catch (err) {
      if (sw.session.closed) return;
      if (err instanceof OpenFlowError && err.errorType === OFPET.ROLE_REQUEST_FAILED) return refused(sw, want, false);
      throw err;
    }
    if (writes) await sw.syncer.request();
  }

  function attach(socket: Socket, peer: string): void {
    if (stopped) {
      socket.destroy();
      return;
    }
    const session = new Session(socket, { ...opts.session, peer, ...(opts.role ? { role: opts.role } : {}) });
    sessions.add(session);
    let sw: Switch | undefined;
    session.on('connected', (dpid) => {
      const old = byDpid.get(dpid);
      // The switch reconnected before its old connection timed out: the new one wins.
      if (old) old.session.close('replaced by a new connection from the same datapath');
      const created: Switch = {
        dpid,
        session,
        queue: new PacketInQueue((ev) => dispatcher.dispatch(ev), opts.packetIn),
        syncer: new Syncer(() => runSync(created)),
        flowMods: 0,
        syncs: 0,
        lastSync: undefined,
        bundles: true,
        role: opts.role ?? EQUAL,
      };
      sw = created;
      byDpid.set(dpid, created);
      log.info({ dpid: dpidText(dpid), peer }, 'switch connected');
      emit('connected', dpid);
      // With replicas only the writer syncs, once its MASTER claim is granted; a reader has nothing to put there.
      if (opts.writeRole) reclaim(created).catch((err: Error) => logSyncFailure(dpid, err, 'role claim or sync after connect failed'));
      else created.syncer.request().catch((err: Error) => logSyncFailure(dpid, err, 'sync after connect failed'));
    });
    session.on('packetIn', (m) => {
      if (sw) sw.queue.push(toEvent(sw.dpid, opts.hostOf?.(sw.dpid), m));
    });
    session.on('error', (e) => log.debug({ peer, err: e.message }, 'switch reported an error'));
    session.on('disconnected', (reason) => {
      sessions.delete(session);
      if (!sw) {
        log.info({ peer, reason }, 'switch connection closed before the handshake completed');
        return;
      }
      sw.queue.stop();
      if (byDpid.get(sw.dpid) === sw) byDpid.delete(sw.dpid);
      log.info({ dpid: dpidText(sw.dpid), peer, reason }, 'switch disconnected');
      emit('disconnected', sw.dpid, reason);
    });
    session.start();
  }

  function get(dpid: bigint): Switch {
    const sw = byDpid.get(dpid);
    if (!sw) throw new Error(`switch ${dpidText(dpid)} is not connected`);
    return sw;
  }

  const plane: OpenflowPlane = {
    name: 'openflow',
    async reclaim(dpid) {
      const sw = byDpid.get(dpid);
      if (sw) await reclaim(sw);
    },
    reclaimAll() {
      for (const sw of byDpid.values()) reclaim(sw).catch((err: Error) => log.warn({ dpid: dpidText(sw.dpid), err: err.message }, 'role claim failed'));
    },
    async start() {
      stopped = false;
      try {
        for (const t of opts.targets) {
          if (isPassive(t)) {
            const l = new SwitchListener(t, attach, opts.tls);
            await l.start();
            listeners.push(l);
          } else {
            const d = new SwitchDialer(t, attach, {
              ...(opts.tls ? { tls: opts.tls } : {}),
              ...(opts.backoff ? { minBackoff: opts.backoff.min, maxBackoff: opts.backoff.max } : {}),
              onFailure: (reason, retryIn) => log.debug({ target: d.name, reason, retryIn }, 'switch dial failed'),
            });
            d.start();
            dialers.push(d);
          }
        }
      } catch (e) {
        await plane.stop();
        throw e;
      }
      const every = opts.auditInterval ?? 60_000;
      if (every > 0) {
        audit = setInterval(() => {
          for (const sw of byDpid.values()) sw.syncer.request().catch((err: Error) => logSyncFailure(sw.dpid, err, 'audit failed'));
        }, every);
        audit.unref();
      }
    },
    async stop() {
      stopped = true;
      clearInterval(audit);
      audit = undefined;
      for (const d of dialers.splice(0)) d.stop();
      const closing = listeners.splice(0).map((l) => l.close());
      // A listener's close waits for its connections, so the sessions go first. Closing a session leaves the
      // switch's flows in place: in fail_mode=secure the data plane carries on without weft.
      for (const s of [...sessions]) s.close('weft is stopping');
      await Promise.all(closing);
    },
    listeners(): Listener[] {
      return listeners.map((l) => ({ name: 'openflow', address: l.address() }));
    },
    sync(dpid) {
      try {
        return get(dpid).syncer.request();
      } catch (e) {
        return Promise.reject(e);
      }
    },
    async syncAll() {
      const out = new Map<bigint, SyncResult | Error>();
      await Promise.all(
        [...byDpid.values()].map(async (sw) => {
          try {
            out.set(sw.dpid, await sw.syncer.request());
          } catch (e) {
            out.set(sw.dpid, e as Error);
          }
        }),
      );
      return out;
    },
    switches() {
      return [...byDpid.values()].map((sw) => ({
        dpid: sw.dpid,
        host: opts.hostOf?.(sw.dpid),
        peer: sw.session.peer,
        packetIns: { ...sw.queue.counters },
        flowMods: sw.flowMods,
        syncs: sw.syncs,
        lastSync: sw.lastSync,
      }));
    },
    session(dpid) {
      return byDpid.get(dpid)?.session;
    },
    onPacketIn(handler) {
      return dispatcher.onPacketIn(handler);
    },
    packetOut(dpid, p) {
      get(dpid).session.send({ type: 'packet_out', bufferId: OFP_NO_BUFFER, inPort: p.inPort ?? OFPP.CONTROLLER, actions: [output(p.outPort)], data: p.frame });
    },
    on(event, fn) {
      handlers[event].push(fn);
    },
  };
  return plane;
}
