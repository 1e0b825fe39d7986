#!/usr/bin/env node
// A small client of weft's admin API over one WebSocket, with nothing but the
// `ws` package: lists the tenant's networks, then prints object changes as
// they happen. Usage:
//   WEFT_TOKEN=$(cat var/admin.token) node ws-client.mjs [ws://127.0.0.1:8080/rpc]
import { WebSocket } from 'ws';

const url = process.argv[2] ?? process.env.WEFT_WS ?? 'ws://127.0.0.1:8080/rpc';
const token = process.env.WEFT_TOKEN;
if (!token) {
  console.error('set WEFT_TOKEN to an admin or tenant token');
  process.exit(2);
}

const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
const pending = new Map();
let next = 1;

/** One JSON-RPC call; calls may be sent without waiting for earlier answers. */
function call(method, params = {}) {
  const id = next++;
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

ws.on('message', (data) => {
  const message = JSON.parse(data.toString());
  if (message.method === 'event') {
    const e = message.params;
    console.log(`${e.revision} ${e.action} ${e.kind} ${e.key}`);
    return;
  }
  const waiter = pending.get(message.id);
  if (!waiter) return;
  pending.delete(message.id);
  if (message.error) {
    const fields = (message.error.data?.issues ?? []).map((i) => `${i.path}: ${i.message}`).join('; ');
    waiter.reject(new Error(`${message.error.message} (${message.error.code})${fields ? ` [${fields}]` : ''}`));
  } else waiter.resolve(message.result);
});
ws.on('unexpected-response', (_req, res) => {
  console.error(`upgrade refused: HTTP ${res.statusCode}`);
  process.exit(1);
});
ws.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});
ws.on('close', () => process.exit(0));

ws.on('open', async () => {
  try {
    const { networks } = await call('network.list');
    for (const n of networks) console.log(`${n.tenant}/${n.name} vlan ${n.vlan} vni ${n.vni} ${n.subnets.map((s) => s.cidr).join(',')}`);
    const { subscription, revision } = await call('events.subscribe');
    console.log(`subscribed (${subscription}) after revision ${revision}; Ctrl-C to stop`);
    if (process.env.WEFT_ONCE) ws.close();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
});
process.on('SIGINT', () => ws.close());
