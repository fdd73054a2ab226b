/**
 * The layering rules of docs/ARCHITECTURE.md, checked on the source: which package may import
 * which, what may import an engine driver, and how long a file may grow. Every failure names
 * the rule, the file and what to do, so a change that breaks one can be fixed from the message.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const packagesDir = join(repoRoot, 'packages');

/**
 * What each library package may import from the workspace. A package not listed here may import
 * any library package (but see the testkit rule); list it here once its place is settled.
 */
export const ALLOWED_IMPORTS: Record<string, readonly string[]> = {
  protocol: [],
  engine: ['protocol'],
  server: ['protocol', 'engine', 'console'],
  console: ['protocol'],
  sdk: ['protocol'],
  runtime: ['protocol', 'engine', 'server'],
  controller: ['protocol', 'engine', 'server', 'sdk', 'runtime'],
  mcp: ['protocol', 'sdk'],
  integrations: ['protocol', 'sdk', 'mcp'],
  cli: ['protocol', 'sdk', 'runtime', 'mcp'],
  testkit: ['protocol', 'engine', 'server'],
};

/** Packages that are themselves tests or measurements: their code may use the testkit. */
const TEST_PACKAGES = new Set(['testkit', 'e2e', 'e2b-compat', 'hardening', 'bench']);

/** The one engine file outside drivers/ that names the drivers: the package's entry, exporting them. */
const ENGINE_ENTRY = 'index.ts';

const MAX_LINES = 400;
const MAX_DRIVER_LINES = 300;
const SOURCE = /\.(ts|c|h|py)$/;

interface SourceFile {
  pkg: string;
  /** Path from the repository root. */
  path: string;
  text: string;
  isTest: boolean;
  generated: boolean;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('dist') || entry.name === 'build') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (SOURCE.test(entry.name)) out.push(p);
  }
  return out;
}

function sources(): SourceFile[] {
  const files: SourceFile[] = [];
  for (const pkg of readdirSync(packagesDir)) {
    if (!statSync(join(packagesDir, pkg)).isDirectory()) continue;
    for (const sub of ['src', 'kernels']) {
      let found: string[];
      try {
        found = walk(join(packagesDir, pkg, sub));
      } catch {
        continue;
      }
      for (const abs of found) {
        const path = relative(repoRoot, abs);
        const text = readFileSync(abs, 'utf8');
        const isTest = /\.test\.ts$/.test(path) || /\/(testing|test-support)\//.test(path);
        // Generated code says so in its header (ours: GENERATED; protoc-gen-es: @generated).
        const generated = /GENERATED|@generated/.test(text.split('\n', 20).join('\n'));
        files.push({ pkg, path, text, isTest, generated });
      }
    }
  }
  return files;
}

/** Module specifiers a TypeScript file imports or re-exports (static and dynamic). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]/g))
    out.push(m[1] as string);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  return out;
}

const all = sources();
const typescript = all.filter((f) => f.path.endsWith('.ts'));

function violations(check: (f: SourceFile, spec: string) => string | undefined, files = typescript): string[] {
  const found: string[] = [];
  for (const f of files)
    for (const spec of specifiers(f.text)) {
      const why = check(f, spec);
      if (why) found.push(`${f.path} imports '${spec}': ${why}`);
    }
  return found;
}

function report(rule: string, found: string[]): void {
  assert.deepEqual(found, [], `rule "${rule}" is broken:\n  ${found.join('\n  ')}`);
}

describe('import rules (docs/ARCHITECTURE.md, "Packages and what each may import")', () => {
  test('a package imports only the workspace packages its layer allows', () => {
    const found = violations((f, spec) => {
      const m = /^@mitos\/([^/]+)/.exec(spec);
      const target = m?.[1];
      if (!target || target === f.pkg) return undefined;
      if (target === 'testkit') return undefined; // the testkit rule below
      const allowed = ALLOWED_IMPORTS[f.pkg];
      if (!allowed || f.isTest) return undefined;
      return allowed.includes(target)
        ? undefined
        : `@mitos/${f.pkg} may import only ${allowed.map((a) => `@mitos/${a}`).join(', ') || 'no workspace package'}; move the code to a lower layer or depend the other way`;
    });
    report('layers', found);
  });

  test('library code never imports the testkit (tests and test packages may)', () => {
    const found = violations((f, spec) =>
      spec.startsWith('@mitos/testkit') && !f.isTest && !TEST_PACKAGES.has(f.pkg)
        ? 'test kits stay out of libraries; import it from a *.test.ts file or a testing/ folder only'
        : undefined,
    );
    report('no testkit in libraries', found);
  });

  test('no import reaches into another package by path', () => {
    const found = violations((f, spec) => {
      if (/^@mitos\/[^/]+\/(dist|src)\//.test(spec)) return `import the package's public entry (@mitos/x) instead`;
      if (!spec.startsWith('.')) return undefined;
      const target = relative(packagesDir, join(repoRoot, f.path, '..', spec));
      const targetPkg = target.split('/')[0];
      return targetPkg !== f.pkg ? `relative path into packages/${targetPkg}; import @mitos/${targetPkg}` : undefined;
    });
    report('no deep imports', found);
  });

  test('engine drivers never import each other, and shared engine code never imports a driver', () => {
    const engine = typescript.filter((f) => f.pkg === 'engine' && !f.isTest);
    const found = violations((f, spec) => {
      if (!spec.startsWith('.')) return undefined;
      const from = relative(join(packagesDir, 'engine/src'), join(repoRoot, f.path));
      const to = relative(join(packagesDir, 'engine/src'), join(repoRoot, f.path, '..', spec));
      const [fromTop, fromDriver] = from.split('/');
      const [toTop, toDriver] = to.split('/');
      if (toTop !== 'drivers') return undefined;
      if (fromTop === 'drivers' && fromDriver !== toDriver)
        return `driver ${fromDriver} imports driver ${toDriver}; move what both need to agent/, cgroups/, core/ or host/`;
      // Everything else (core, agent, cgroups, host, network, state, storage, templates,
      // workspaces, the port itself) is shared by every driver.
      if (fromTop !== 'drivers' && from !== ENGINE_ENTRY)
        return `${from} is shared by every driver and may not depend on one; pass what it needs through the driver port (core/driver.ts)`;
      return undefined;
    }, engine);
    report('drivers apart', found);
  });

  test('the server knows no engine driver (it is handed an Engine)', () => {
    const found = typescript
      .filter((f) => f.pkg === 'server' && !f.isTest && /\b(LinuxEngine|MicroVmEngine)\b/.test(f.text))
      .map((f) => `${f.path} names a concrete engine; take an Engine and let @mitos/runtime choose the driver`);
    report('server over the port', found);
  });
});

describe('file sizes (every non-generated source, tests too)', () => {
  const counted = all.filter((f) => !f.generated);
  const lines = (f: SourceFile) => f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0);

  test(`no source file is over ${MAX_LINES} lines`, () => {
    const found = counted
      .filter((f) => lines(f) > MAX_LINES)
      .map((f) => `${f.path} has ${lines(f)} lines; split it into modules with one job each`);
    report(`at most ${MAX_LINES} lines`, found);
  });

  test(`each engine driver file is under ${MAX_DRIVER_LINES} lines`, () => {
    const drivers = counted.filter((f) => /^packages\/engine\/src\/drivers\/[^/]+\/driver\.ts$/.test(f.path));
    assert.ok(drivers.length >= 2, 'expected a driver.ts per engine driver');
    const found = drivers
      .filter((f) => lines(f) >= MAX_DRIVER_LINES)
      .map((f) => `${f.path} has ${lines(f)} lines; what is not specific to this driver belongs in the host core`);
    report(`drivers under ${MAX_DRIVER_LINES} lines`, found);
  });
});
