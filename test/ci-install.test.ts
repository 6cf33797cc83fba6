// `.ci/run` on a machine that lacks the system packages: a PATH whose `dpkg-query` knows only the
// packages a test gives it, an `apt-get` that records its calls and "installs" into that list, and
// an `npm` that records `npm ci` / `npm test` instead of running them. The real scripts run
// unchanged; only apt's sources folder and /etc/os-release are moved into a temporary folder.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const hasDpkg = spawnSync('dpkg', ['--version']).status === 0;

const STUBS: Record<string, string> = {
  // `${Status} ${Version}` for a package in $STATE/installed ("name version" lines), else exit 1 as dpkg-query does.
  'dpkg-query': `#!/bin/sh
pkg="$3"
line="$(grep "^$pkg " "$STATE/installed" 2>/dev/null | tail -n 1)"
if [ -z "$line" ]; then echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; fi
echo "install ok installed \${line#* }"
`,
  // Records each call; 'install' adds its packages. Mesa is 22 from the release's own suite and 25 from bookworm-backports ($MESA_FROM_SUITE, $MESA_FROM_BACKPORTS override).
  'apt-get': `#!/bin/sh
echo "apt-get $*" >> "$STATE/log"
if [ "$1" = install ] && [ -n "$APT_FAIL" ]; then echo "E: Unable to locate package" >&2; exit "$APT_FAIL"; fi
if [ "$1" != install ]; then exit 0; fi
mesa="\${MESA_FROM_SUITE:-22.3.6-1+deb12u1}"
case " $* " in *" -t bookworm-backports "*) mesa="\${MESA_FROM_BACKPORTS:-25.0.7-2~bpo12+1}";; esac
for arg in "$@"; do
  case "$arg" in
    libvulkan1) echo "libvulkan1 1.3.239.0-1" >> "$STATE/installed";;
    mesa-vulkan-drivers) echo "mesa-vulkan-drivers $mesa" >> "$STATE/installed";;
    chromium) echo "chromium 156.0.8078.129-1~deb12u1" >> "$STATE/installed";;
  esac
done
`,
  npm: `#!/bin/sh
if [ "$1" = --version ]; then echo 11.0.0; exit 0; fi
echo "npm $*" >> "$STATE/log"
`,
  sudo: `#!/bin/sh
exec "$@"
`,
};

interface Machine {
  installed?: string[];
  codename?: string;
  backportsInSources?: boolean;
  env?: Record<string, string>;
}

const folders: string[] = [];
afterEach(() => {
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

function runCi(machine: Machine) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ci-'));
  folders.push(dir);
  const bin = join(dir, 'bin');
  const state = join(dir, 'state');
  const aptEtc = join(dir, 'etc-apt');
  mkdirSync(bin);
  mkdirSync(state);
  mkdirSync(join(aptEtc, 'sources.list.d'), { recursive: true });
  for (const [name, text] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(state, 'installed'), (machine.installed ?? []).map((p) => `${p}\n`).join(''));
  writeFileSync(join(state, 'log'), '');
  writeFileSync(join(aptEtc, 'sources.list'), machine.backportsInSources ? 'deb http://deb.debian.org/debian bookworm-backports main\n' : 'deb http://deb.debian.org/debian bookworm main\n');
  const osRelease = join(dir, 'os-release');
  writeFileSync(osRelease, `ID=debian\nVERSION_CODENAME=${machine.codename ?? 'bookworm'}\n`);
  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: dir,
    STATE: state,
    APT_ETC: aptEtc,
    OS_RELEASE: osRelease,
    XDG_RUNTIME_DIR: dir,
    ...machine.env,
  };
  const result = spawnSync('bash', [join(ROOT, '.ci/run')], { env, encoding: 'utf8', timeout: 60_000 });
  const log = readFileSync(join(state, 'log'), 'utf8').trim().split('\n').filter(Boolean);
  const backports = join(aptEtc, 'sources.list.d', 'bookworm-backports.sources');
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, log, backportsSource: existsSync(backports) ? readFileSync(backports, 'utf8') : null };
}

describe.skipIf(!hasDpkg)('.ci/run installs what the tests need', () => {
  it('on a bookworm machine without libvulkan1, Mesa or Chromium: adds backports, installs all three, then runs npm ci and npm test', () => {
    const r = runCi({});
    expect(r.stderr).not.toContain('error');
    expect(r.status).toBe(0);
    expect(r.log).toEqual([
      'apt-get update',
      'apt-get install -y libvulkan1',
      'apt-get install -y -t bookworm-backports mesa-vulkan-drivers',
      'apt-get install -y chromium',
      'npm ci',
      'npm test',
    ]);
    expect(r.backportsSource).toContain('Suites: bookworm-backports');
  });

  it('with everything installed: touches apt not at all', () => {
    const r = runCi({ installed: ['libvulkan1 1.3.239.0-1', 'mesa-vulkan-drivers 25.0.7-2~bpo12+1', 'chromium 156.0'] });
    expect(r.status).toBe(0);
    expect(r.log).toEqual(['npm ci', 'npm test']);
    expect(r.backportsSource).toBeNull();
  });

  it("upgrades bookworm's own Mesa 22 from backports, and leaves sources that already name backports alone", () => {
    const r = runCi({ installed: ['libvulkan1 1.3.239.0-1', 'mesa-vulkan-drivers 22.3.6-1+deb12u1', 'chromium 156.0'], backportsInSources: true });
    expect(r.status).toBe(0);
    expect(r.log).toEqual(['apt-get update', 'apt-get install -y libvulkan1', 'apt-get install -y -t bookworm-backports mesa-vulkan-drivers', 'npm ci', 'npm test']);
    expect(r.backportsSource).toBeNull();
  });

  it("on a release past bookworm: installs Mesa from the release's own suite; TESSERA_SKIP_BROWSER=1 leaves Chromium out", () => {
    const r = runCi({ codename: 'trixie', env: { TESSERA_SKIP_BROWSER: '1', MESA_FROM_SUITE: '25.0.7-2' } });
    expect(r.status).toBe(0);
    expect(r.log).toEqual(['apt-get update', 'apt-get install -y libvulkan1 mesa-vulkan-drivers', 'npm ci', 'npm test']);
    expect(r.backportsSource).toBeNull();
  });

  it('a failing apt-get stops the run with a message naming the command, before npm', () => {
    const r = runCi({ env: { APT_FAIL: '100' } });
    expect(r.status).not.toBe(0);
    expect(r.log).toEqual(['apt-get update', 'apt-get install -y libvulkan1']);
    expect(r.stderr).toMatch(/install-system-deps: error: line \d+: `.*apt-get install -y "\$@"` failed \(exit 100\)/);
    expect(r.stderr).toMatch(/\.ci\/run: error: line \d+: `bash tools\/install-system-deps\.sh` failed \(exit 100\)/);
  });

  it('backports that still give Mesa < 25 is an error that says so', () => {
    const r = runCi({ env: { MESA_FROM_BACKPORTS: '24.2.8-1~bpo12+1' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("mesa-vulkan-drivers is '24.2.8-1~bpo12+1'");
    expect(r.log).not.toContain('npm ci');
  });
});
