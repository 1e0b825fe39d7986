// host.*: the hypervisors. A host appears by itself when its ovsdb-server
// connects (`ovs-vsctl set-manager tcp:WEFT:6640`), `pending` unless an
// admission rule admits it; weft touches only admitted hosts. Host changes
// come through `events.subscribe` (kind `host`) like every other object.
import { z } from 'zod';
import { BridgeName, Encap, Host, HostName, HostState, Ipv4 } from '../../model/index.js';
import { del, put } from '../../store/store.js';
import { Revision, type MethodDeps } from '../deps.js';
import { ErrorCode, conflict, notFound } from '../errors.js';
import { defineMethod, type AnyMethod } from '../registry.js';

export const HostStatus = z.object({
  connected: z.boolean().describe('an OVSDB session to the host is up'),
  connectedSince: z.string().optional().describe('ISO time the current session started'),
  peer: z.string().optional().describe('the session: tcp:IP:PORT, ssl:IP:PORT or unix:PATH'),
  reported: z
    .object({
      encapIp: z.string().optional().describe('external_ids:weft-encap-ip on the host'),
      hostname: z.string().optional(),
      ovsVersion: z.string().optional(),
      datapathTypes: z.array(z.string()),
    })
    .optional()
    .describe("what the host's own database says"),
  tunnels: z.array(z.string()).describe('peers that weft tunnels on the host lead to, now'),
  reconcile: z.enum(['converged', 'pending', 'failed', 'idle']).describe('converged: the last reconcile found nothing to do; idle: not admitted or not connected'),
  lastError: z.string().optional(),
  warnings: z.array(z.string()).describe('what weft wanted but could not do, e.g. a peer without an encap IP'),
});
export type HostStatus = z.infer<typeof HostStatus>;

/** The live side of hosts, served by the OVSDB plane. */
export interface HostRuntime {
  status(name: string): HostStatus;
}

export interface HostDeps {
  /** Absent when no OVSDB plane runs (then every host shows as not connected). */
  hosts?: HostRuntime;
}

export const HostResult = Host.extend({ revision: Revision, status: HostStatus });

const IfRevision = Revision.optional().describe('refuse with a conflict unless the host is still at this revision');

const OFFLINE: HostStatus = { connected: false, tunnels: [], reconcile: 'idle', warnings: [] };

export function hostMethods({ store, guard, hosts }: MethodDeps & HostDeps): AnyMethod[] {
  const result = (h: { value: Host; revision: number }) => ({ ...h.value, revision: h.revision, status: hosts?.status(h.value.name) ?? OFFLINE });

  async function mustGet(name: string, ifRevision?: number) {
    const h = await store.get('host', name);
    if (!h) throw notFound(`host ${name}`);
    if (ifRevision !== undefined && h.revision !== ifRevision) {
      throw conflict([{ path: 'ifRevision', message: `host ${name} is at revision ${h.revision}, not ${ifRevision}` }]);
    }
    return h;
  }

  function setState(name: 'host.admit' | 'host.reject', state: HostState, summary: string, description: string) {
    return defineMethod({
      name,
      summary,
      description,
      scope: 'admin',
      params: z.strictObject({ name: HostName, ifRevision: IfRevision }),
      result: HostResult,
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p) =>
        guard.run(async (fence) => {
          const h = await mustGet(p.name, p.ifRevision);
          if (h.value.state === state) return result(h);
          const host: Host = { ...h.value, state };
          const { revision } = await store.commit([put('host', p.name, host, h.revision)], { fence });
          return result({ value: host, revision });
        }),
    });
  }

  return [
    defineMethod({
      name: 'host.list',
      summary: 'Every host weft has heard of, with its live state.',
      scope: 'admin',
      params: z.strictObject({ state: HostState.optional().describe('only hosts in this state') }),
      result: z.object({ hosts: z.array(HostResult) }),
      handler: async (p) => ({ hosts: (await store.list('host')).filter((h) => p.state === undefined || h.value.state === p.state).map(result) }),
    }),
    defineMethod({
      name: 'host.get',
      summary: 'One host, with its live state.',
      scope: 'admin',
      params: z.strictObject({ name: HostName }),
      result: HostResult,
      errors: [ErrorCode.NotFound],
      handler: async (p) => result(await mustGet(p.name)),
    }),
    setState(
      'host.admit',
      'admitted',
      'Admit a host: weft configures its integration bridge and tunnels it to every other admitted host.',
      'Idempotent. The host needs an encap IP (its `external_ids:weft-encap-ip`, or `host.update`) before tunnels are made to or from it.',
    ),
    setState(
      'host.reject',
      'rejected',
      'Reject a host: weft stops touching it and the other hosts drop their tunnels to it.',
      'What weft already configured on the host stays until the host is admitted again or the operator removes it. The host stays known, so it is not pending again when it reconnects.',
    ),
    defineMethod({
      name: 'host.update',
      summary: "Change how weft configures a host: encap IP, encapsulation, integration bridge, datapath type.",
      description:
        '`encapIp` set here wins over the host\'s `external_ids:weft-encap-ip`; `null` goes back to the host\'s value. `datapathType` `null` goes back to what the host has. Changing `bridge` moves weft\'s tunnels to the new bridge; the old bridge itself is left alone.',
      scope: 'admin',
      params: z.strictObject({
        name: HostName,
        encapIp: Ipv4.nullable().optional(),
        encap: Encap.optional(),
        bridge: BridgeName.optional().describe('integration bridge, e.g. br-int, or vmbr1 on Proxmox'),
        datapathType: z.string().max(32).nullable().optional().describe('system (kernel) or netdev (userspace)'),
        ifRevision: IfRevision,
      }),
      result: HostResult,
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p) =>
        guard.run(async (fence) => {
          const h = await mustGet(p.name, p.ifRevision);
          const host: Host = { ...h.value };
          if (p.encapIp === null) delete host.encapIp;
          else if (p.encapIp !== undefined) host.encapIp = p.encapIp;
          if (p.datapathType === null) delete host.datapathType;
          else if (p.datapathType !== undefined) host.datapathType = p.datapathType;
          if (p.encap !== undefined) host.encap = p.encap;
          if (p.bridge !== undefined) host.bridge = p.bridge;
          const { revision } = await store.commit([put('host', p.name, host, h.revision)], { fence });
          return result({ value: host, revision });
        }),
    }),
    defineMethod({
      name: 'host.remove',
      summary: 'Forget a host: the other hosts drop their tunnels to it and its session is closed.',
      description:
        'A host whose ovsdb-server still points at weft reconnects and is pending again (or admitted again by a rule): run `ovs-vsctl del-manager` on it first to keep it away.',
      scope: 'admin',
      params: z.strictObject({ name: HostName, ifRevision: IfRevision }),
      result: z.object({ deleted: z.array(z.string()) }),
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p) =>
        guard.run(async (fence) => {
          const h = await mustGet(p.name, p.ifRevision);
          await store.commit([del('host', p.name, h.revision)], { fence });
          return { deleted: [`host ${p.name}`] };
        }),
    }),
  ];
}
