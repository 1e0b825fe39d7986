// docs/api.md is generated from the registry's schemas; this test fails when
// the committed file differs, so the reference cannot drift from the code.
// WEFT_UPDATE_DOCS=1 rewrites it instead.
import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { renderApiDocs } from '../../../src/api/docs.js';
import { builtinMethods, Registry, type MethodDeps } from '../../../src/api/index.js';

const file = new URL('../../../../docs/api.md', import.meta.url);

t.test('docs/api.md is what the registry says', async (t) => {
  // Documenting needs only the declarations, never the handlers' dependencies.
  const registry = new Registry().add(...builtinMethods({} as MethodDeps));
  const text = renderApiDocs(registry);
  if (process.env.WEFT_UPDATE_DOCS === '1') writeFileSync(file, text);
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    /* missing: reported as a difference */
  }
  t.equal(committed, text, 'docs/api.md matches the schemas (regenerate: WEFT_UPDATE_DOCS=1 npx tap dist/test/unit/api/docs.test.js)');
  for (const m of registry.list()) t.match(text, `### \`${m.name}\``, `${m.name} is documented`);
});
