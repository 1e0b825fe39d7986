// The whole weft daemon in this process, on loopback, admitting every host:
// its OVSDB and OpenFlow listeners on ports known in advance so that hosts
// can be pointed at them, its API on a port the kernel picks, and an API
// client holding the admin token it wrote.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpClient } from '../../src/api/client.js';
import { loadConfig } from '../../src/config/index.js';
import type { Logger } from '../../src/log.js';
import { startDaemon, type Daemon } from '../../src/main.js';
import { freePort } from '../harness/free-port.js';
import type { Ovs } from '../harness/ovs.js';

export interface WeftDaemon {
  daemon: Daemon;
  /** The API's base URL, `http://HOST:PORT`. */
  api: string;
  client: HttpClient;
  ports: { ovsdb: number; openflow: number };
}

/** Starts the daemon with its data under `dir`/data. */
export async function startWeftDaemon(dir: string, log: Logger): Promise<WeftDaemon> {
  const ports = { ovsdb: await freePort(), openflow: await freePort() };
  const { config } = loadConfig({
    flags: {
      data: join(dir, 'data'),
      ovsdb: [`ptcp:${ports.ovsdb}:127.0.0.1`],
      openflow: [`ptcp:${ports.openflow}:127.0.0.1`],
      api: '127.0.0.1:0',
      admit: ['auto'],
      tunnelLocalIp: false,
      openflowAudit: 0,
    },
  });
  const daemon = await startDaemon(config, log);
  try {
    const api = daemon.listeners().find((l) => l.name === 'api')!.address.replace(/\/rpc$/, '');
    const client = new HttpClient({ url: api, token: readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim() });
    return { daemon, api, client, ports };
  } catch (err) {
    await daemon.stop();
    throw err;
  }
}

/** Names `ovs` host hvI with encapsulation IP 198.18.0.I and points its manager at weft's OVSDB listener. */
export async function pointHost(ovs: Ovs, i: number, ovsdbPort: number): Promise<void> {
  await ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=hv${i}`, `external_ids:weft-encap-ip=198.18.0.${i}`);
  await ovs.vsctl('set-manager', `tcp:127.0.0.1:${ovsdbPort}`);
}
