#!/usr/bin/env node
// Brings up the namespace lab by hand, from a built checkout (npm ci), and
// keeps it until Ctrl-C, which tears it down. Usage (as root):
//   node deploy/lab/up.mjs [HYPERVISORS=2] [VMS_PER_HV=1] [--mgmt] [--tag N] [--secure]
import { Lab, sweep } from '../../dist/test/harness/lab.js';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : undefined);
const positional = args.filter((a, i) => !a.startsWith('--') && !['--tag'].includes(args[i - 1]));
const hvCount = Number(positional[0] ?? 2);
const vmsPerHv = Number(positional[1] ?? 1);
const tag = value('--tag');

const swept = await sweep();
if (swept.length) console.log(`swept leftovers of dead runs: ${swept.join(', ')}`);

const lab = await Lab.create();
for (let i = 0; i < hvCount; i++) await lab.addHypervisor({ mgmt: flag('--mgmt'), failMode: flag('--secure') ? 'secure' : 'standalone' });
await lab.mesh('vxlan');
let host = 10;
for (const hv of lab.hypervisors) {
  for (let j = 0; j < vmsPerHv; j++) await lab.addVm(hv, { ip: `192.0.2.${++host}/24`, ...(tag ? { tag } : {}) });
}

console.log(`lab ${lab.id}, files in ${lab.dir}`);
for (const hv of lab.hypervisors) {
  console.log(`  ${hv.netns}: underlay ${hv.underlayIp}` + (hv.mgmt ? `, mgmt ${hv.mgmt.ip} -> controller ${hv.mgmt.controllerIp}` : ''));
  console.log(`    ovs-vsctl --db=${hv.ovs.db} show`);
  console.log(`    OVS_RUNDIR=${hv.ovs.dir} ovs-ofctl -O OpenFlow13 dump-flows ${hv.bridge}`);
}
for (const vm of lab.vms) console.log(`  ${vm.netns}: ${vm.ip} ${vm.mac} on ${vm.hv.netns} port ${vm.port}   ip netns exec ${vm.netns} ping ...`);
console.log('Ctrl-C tears it all down.');
setInterval(() => {}, 1 << 30);
