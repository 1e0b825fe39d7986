// The `store` setting: which store weft opens. `sqlite` is the embedded store
// in the data directory; `ovsdb:REMOTE[,REMOTE...]` is the clustered store on
// an ovsdb-server Raft cluster, its members' client remotes written as Open
// vSwitch writes active connection targets and joined by commas, as
// `ovn-nbctl --db=tcp:IP1:6641,tcp:IP2:6641,tcp:IP3:6641` takes a cluster.

export type StoreChoice = { backend: 'sqlite' } | { backend: 'ovsdb'; remotes: string[] };

export class StoreSettingError extends Error {
  override name = 'StoreSettingError';
}

const USAGE = 'use sqlite or ovsdb:REMOTE[,REMOTE...] with each REMOTE unix:PATH or tcp:HOST:PORT (IPv6 in brackets)';

/** Checks one cluster member's client remote: `unix:PATH` or `tcp:HOST:PORT`. */
export function parseRemote(remote: string): string {
  if (remote.startsWith('unix:')) {
    if (remote.length === 'unix:'.length) throw new StoreSettingError(`${remote}: empty socket path; ${USAGE}`);
    return remote;
  }
  const m = /^tcp:(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d+)$/.exec(remote);
  if (!m) throw new StoreSettingError(`${JSON.stringify(remote)} is not a cluster remote; ${USAGE}`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new StoreSettingError(`${remote}: port ${m[2]} is outside 1-65535`);
  return remote;
}

export function parseStoreSetting(text: string): StoreChoice {
  const s = text.trim();
  if (s === 'sqlite') return { backend: 'sqlite' };
  if (!s.startsWith('ovsdb:')) throw new StoreSettingError(`${JSON.stringify(s)} is not a store; ${USAGE}`);
  const remotes = s
    .slice('ovsdb:'.length)
    .split(',')
    .map((r) => r.trim());
  if (remotes.some((r) => r === '')) throw new StoreSettingError(`${s}: an empty remote; ${USAGE}`);
  const seen = new Set<string>();
  for (const r of remotes) {
    parseRemote(r);
    if (seen.has(r)) throw new StoreSettingError(`${s}: ${r} is listed twice`);
    seen.add(r);
  }
  return { backend: 'ovsdb', remotes };
}

/** The setting as it is written, for logs and status. */
export function formatStoreSetting(choice: StoreChoice): string {
  return choice.backend === 'sqlite' ? 'sqlite' : `ovsdb:${choice.remotes.join(',')}`;
}
