// `npm run bench -- NAME...`: runs the named benchmark families (all of them
// when none is named) and prints one JSON object per family on stdout,
// `{"bench":"NAME", ...figures}`, so runs can be collected and compared by
// machine; progress goes to stderr. A family is a module `test/bench/NAME.ts`
// exporting `async function run(): Promise<unknown>`.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .map((f) => f.slice(0, -'.js'.length))
  .sort();

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`bench: no family ${unknown.join(', ')}; there are: ${available.join(', ')}\n`);
  process.exit(2);
}

for (const name of asked.length > 0 ? asked : available) {
  const family = (await import(`./${name}.js`)) as { run?: () => Promise<unknown> };
  // Helper modules beside the families export no run().
  if (typeof family.run !== 'function') {
    if (asked.includes(name)) {
      process.stderr.write(`bench: ${name} exports no run()\n`);
      process.exitCode = 2;
    }
    continue;
  }
  process.stderr.write(`bench: ${name}\n`);
  try {
    const figures = await family.run();
    process.stdout.write(`${JSON.stringify({ bench: name, ...(figures as object) })}\n`);
  } catch (e) {
    process.stderr.write(`bench: ${name} failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
