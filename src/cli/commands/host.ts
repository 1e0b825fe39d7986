// weft hosts, weft host admit|reject|remove|update|show
import type { Command } from 'commander';
import { call, clientCommand, table, usage, waitOptions, waitParams, withWaited, type WaitFlags, type Waited } from './client.js';

interface HostStatus {
  connected: boolean;
  connectedSince?: string;
  peer?: string;
  reported?: { encapIp?: string };
  tunnels: string[];
  reconcile: string;
  lastError?: string;
  warnings: string[];
}

interface Host {
  name: string;
  state: string;
  encapIp?: string;
  encap: string;
  bridge: string;
  datapathType?: string;
  status: HostStatus;
}

const ENCAPS = ['vxlan', 'geneve', 'gre'];

/** The encap IP weft uses: the API's, else what the host reports (marked so). */
function encapIp(h: Host): string {
  if (h.encapIp) return h.encapIp;
  return h.status.reported?.encapIp ? `${h.status.reported.encapIp} (host)` : '-';
}

function rows(hosts: Host[]): string {
  return table(
    ['HOST', 'STATE', 'ENCAP IP', 'BRIDGE', 'CONNECTED SINCE', 'TUNNELS', 'RECONCILE'],
    hosts.map((h) => [h.name, h.state, encapIp(h), h.bridge, h.status.connectedSince ?? (h.status.connected ? '' : 'not connected'), h.status.tunnels.length, h.status.reconcile]),
  );
}

function detail(h: Host): string {
  const lines = [
    rows([h]).trimEnd(),
    '',
    `encapsulation ${h.encap}${h.datapathType ? `, datapath ${h.datapathType}` : ''}${h.status.peer ? `, session ${h.status.peer}` : ''}`,
    `tunnels to: ${h.status.tunnels.length ? h.status.tunnels.join(', ') : '(none)'}`,
  ];
  if (h.status.lastError) lines.push(`last error: ${h.status.lastError}`);
  for (const w of h.status.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

export function registerHost(program: Command): void {
  clientCommand(program, 'hosts', 'hypervisors: state, encap IP, bridge, session and tunnels')
    .option('--state <state>', 'only pending, admitted or rejected hosts')
    .action((o: { state?: string }, cmd: Command) => {
      if (o.state !== undefined && !['pending', 'admitted', 'rejected'].includes(o.state)) usage(cmd, `--state must be pending, admitted or rejected, got ${JSON.stringify(o.state)}`);
      return call<{ hosts: Host[] }>(cmd, 'host.list', o.state ? { state: o.state } : {}, ({ hosts }) => rows(hosts));
    });
  const host = program.command('host').description('one hypervisor: show, admit, reject, update, remove');
  clientCommand(host, 'show', "a host's state, session, tunnels and warnings")
    .argument('<name>')
    .action((name: string, _o: unknown, cmd: Command) => call<Host>(cmd, 'host.get', { name }, detail));
  waitOptions(clientCommand(host, 'admit', 'let weft configure the host and tunnel it to the other admitted hosts'))
    .argument('<name>')
    .action((name: string, o: WaitFlags, cmd: Command) => call<Host & { waited?: Waited[] }>(cmd, 'host.admit', { name, ...waitParams(cmd, o) }, withWaited((h) => `admitted ${h.name}`)));
  clientCommand(host, 'reject', 'stop touching the host; the others drop their tunnels to it')
    .argument('<name>')
    .action((name: string, _o: unknown, cmd: Command) => call<Host>(cmd, 'host.reject', { name }, (h) => `rejected ${h.name}`));
  clientCommand(host, 'remove', 'forget the host (run `ovs-vsctl del-manager` on it first, or it comes back pending)')
    .argument('<name>')
    .action((name: string, _o: unknown, cmd: Command) => call<{ deleted: string[] }>(cmd, 'host.remove', { name }, ({ deleted }) => deleted.map((d) => `deleted ${d}`).join('\n')));
  clientCommand(host, 'update', "change a host's encap IP, encapsulation, integration bridge or datapath type")
    .argument('<name>')
    .option('--encap-ip <ip>', 'tunnel endpoint; "host" goes back to external_ids:weft-encap-ip')
    .option('--encap <type>', 'vxlan, geneve or gre')
    .option('--bridge <name>', 'integration bridge (vmbr1 on Proxmox)')
    .option('--datapath-type <type>', 'system or netdev; "host" goes back to what the host has')
    .action((name: string, o: { encapIp?: string; encap?: string; bridge?: string; datapathType?: string }, cmd: Command) => {
      if (o.encap !== undefined && !ENCAPS.includes(o.encap)) usage(cmd, `--encap must be one of ${ENCAPS.join(', ')}, got ${JSON.stringify(o.encap)}`);
      const params: Record<string, unknown> = { name };
      if (o.encapIp !== undefined) params.encapIp = o.encapIp === 'host' ? null : o.encapIp;
      if (o.datapathType !== undefined) params.datapathType = o.datapathType === 'host' ? null : o.datapathType;
      if (o.encap !== undefined) params.encap = o.encap;
      if (o.bridge !== undefined) params.bridge = o.bridge;
      if (Object.keys(params).length === 1) usage(cmd, 'nothing to update: give --encap-ip, --encap, --bridge or --datapath-type');
      return call<Host>(cmd, 'host.update', params, detail);
    });
}
