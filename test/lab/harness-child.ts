// A test process that builds a small lab, reports it on stdout as one JSON
// line and then idles until it is killed: the self-test kills it with a
// signal to prove the lab goes away with it (or is swept after SIGKILL).
import { Lab } from '../harness/lab.js';

const lab = await Lab.create();
const hv = await lab.addHypervisor({ mgmt: true });
const vm = await lab.addVm(hv, { ip: '192.0.2.21/24' });
process.stdout.write(
  `${JSON.stringify({
    id: lab.id,
    dir: lab.dir,
    pids: [hv.ovs.ovsdbPid, hv.ovs.vswitchdPid],
    namespaces: lab.namespaces,
    links: lab.rootLinks,
    vm: vm.netns,
  })}\n`,
);
setInterval(() => {}, 1 << 30);
