/** Pure parts of the microvm driver: formats, decisions and command lines (no VM needed). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { chooseAccelerator, hostTscKhz } from './accel.js';
import { writeCpio } from './cpio.js';
import { moduleDepends, orderModules } from './initramfs.js';
import { decodeBlock, decodeLegacyFrame, LZ4_LEGACY_MAGIC } from './lz4.js';
import { RestorePool } from './pool.js';
import { kernelCmdline, qemuArgs } from './qemu-args.js';
import { extractVmlinux, isCompleteElf64 } from './vmlinux.js';

describe('microvm: accelerator choice', () => {
  const probe = (files: string[], env: Record<string, string> = {}, guestConfig?: string) => ({
    env,
    exists: (p: string) => files.includes(p),
    writable: (p: string) => files.includes(p),
    guestConfig,
  });

  test('kvm_pvm cannot run a stock guest kernel: TCG, and the reason says so', () => {
    const c = chooseAccelerator(probe(['/dev/kvm', '/sys/module/kvm_pvm']));
    assert.equal(c.accel, 'tcg');
    assert.match(c.reason, /kvm_pvm.*CONFIG_PVM_GUEST/);
  });

  test('kvm_pvm with a PVM guest kernel, or a hardware backend: KVM', () => {
    assert.equal(
      chooseAccelerator(probe(['/dev/kvm', '/sys/module/kvm_pvm'], {}, 'CONFIG_PVM_GUEST=y\n')).accel,
      'kvm',
    );
    assert.equal(chooseAccelerator(probe(['/dev/kvm', '/sys/module/kvm_intel'])).accel, 'kvm');
    assert.equal(chooseAccelerator(probe(['/dev/kvm', '/sys/module/kvm_amd'])).accel, 'kvm');
  });

  test('no /dev/kvm or an unknown backend: TCG; the environment can force either', () => {
    assert.equal(chooseAccelerator(probe([])).accel, 'tcg');
    assert.equal(chooseAccelerator(probe(['/dev/kvm'])).accel, 'tcg');
    assert.equal(chooseAccelerator(probe([], { MITOS_MICROVM_ACCEL: 'kvm' })).accel, 'kvm');
  });

  test('the host TSC frequency comes from cpuinfo', () => {
    assert.equal(hostTscKhz('model name\t: x\ncpu MHz\t\t: 2445.424\n'), 2445424);
    assert.equal(hostTscKhz(''), undefined);
  });
});

describe('microvm: QEMU command line', () => {
  const machine = {
    accel: 'tcg' as const,
    memMiB: 512,
    vcpus: 2,
    vmlinux: '/k/vmlinux',
    initramfs: '/k/i.cpio',
    tscKhz: 2_000_000,
  };
  const spec = { machine, ramFile: '/dev/shm/x.ram', shareRam: false, disk: '/v/d.qcow2', incoming: true, name: 'n' };

  test('restore targets map the RAM file privately and wait for an incoming migration', () => {
    const args = qemuArgs(spec).join(' ');
    assert.match(args, /memory-backend-file,id=ram0,size=512M,mem-path=\/dev\/shm\/x\.ram,share=off/);
    assert.match(args, /-incoming defer/);
    assert.match(args, /-smp 2 -m 512M/);
    assert.match(qemuArgs({ ...spec, shareRam: true, incoming: false }).join(' '), /share=on(?!.*-incoming)/);
  });

  test('confinement and no network are always on', () => {
    const args = qemuArgs(spec);
    assert.equal(
      args[args.indexOf('-sandbox') + 1],
      'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    );
    assert.equal(args[args.indexOf('-nic') + 1], 'none');
    assert.ok(args.includes('-nodefaults'));
    assert.ok(!args.join(' ').includes('exec:'));
  });

  test('TCG gets the host TSC frequency; KVM uses the host CPU', () => {
    assert.match(kernelCmdline(machine), /tsc_early_khz=2000000 tsc=reliable/);
    assert.doesNotMatch(kernelCmdline({ ...machine, accel: 'kvm' }), /tsc_early_khz/);
    const kvm = qemuArgs({ ...spec, machine: { ...machine, accel: 'kvm' } });
    assert.equal(kvm[kvm.indexOf('-cpu') + 1], 'host');
  });
});

describe('microvm: initramfs pieces', () => {
  test('cpio newc: the archive lists every entry and cpio(1) reads it back', () => {
    const archive = writeCpio([
      { kind: 'dir', path: 'dev', mode: 0o755 },
      { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
      { kind: 'file', path: 'init', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
    ]);
    assert.equal(archive.length % 512, 0);
    assert.equal(archive.subarray(0, 6).toString(), '070701');
    const listed = spawnSync('busybox', ['cpio', '-t'], { input: archive });
    if (listed.status === 0 && !listed.error) {
      assert.deepEqual(listed.stdout.toString().trim().split('\n'), ['dev', 'dev/console', 'init']);
    }
  });

  test('module dependencies come first, each module once', () => {
    const deps: Record<string, string[]> = {
      virtio_ring: [],
      virtio: ['virtio_ring'],
      virtio_mmio: ['virtio', 'virtio_ring'],
      virtio_blk: ['virtio', 'virtio_ring'],
      'virtio-rng': ['virtio', 'virtio_ring'],
    };
    const order = orderModules(
      ['virtio_mmio', 'virtio_blk', 'virtio_rng'],
      (n) => deps[n] ?? deps[n.replaceAll('_', '-')],
    );
    assert.deepEqual(order, ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio_rng']);
    assert.throws(() => orderModules(['missing'], () => undefined), /not in the kernel package/);
  });

  test('depends= is read from the module info strings', () => {
    const ko = Buffer.concat([Buffer.from('\0license=GPL\0depends=virtio,virtio_ring\0name=virtio_blk\0')]);
    assert.deepEqual(moduleDepends(ko), ['virtio', 'virtio_ring']);
    assert.deepEqual(moduleDepends(Buffer.from('depends=\0')), []);
  });
});

/** An ELF64 header whose section table ends exactly at `size`. */
function fakeElf(size: number): Buffer {
  const b = Buffer.alloc(size, 0x90);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b.writeBigUInt64LE(BigInt(size - 64 * 4), 0x28);
  b.writeUInt16LE(64, 0x3a);
  b.writeUInt16LE(4, 0x3c);
  return b;
}

describe('microvm: vmlinux extraction', () => {
  test('LZ4 blocks: literals, overlapping matches, legacy frames', () => {
    // "abcabcabcabc": 3 literals then a match of 9 at offset 3 (token 0x35: lit 3, match 5+4).
    const block = Buffer.from([0x35, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x78]);
    const out = Buffer.alloc(32);
    const n = decodeBlock(block, 0, block.length, out, 0);
    assert.equal(out.subarray(0, n).toString(), 'abcabcabcabcx');
    const frame = Buffer.alloc(8 + block.length);
    frame.writeUInt32LE(LZ4_LEGACY_MAGIC, 0);
    frame.writeUInt32LE(block.length, 4);
    block.copy(frame, 8);
    // What follows the payload in a bzImage (the uncompressed size) is not taken for a block.
    const withTail = Buffer.concat([frame, Buffer.from([0x00, 0x00, 0x00, 0x7f])]);
    assert.equal(decodeLegacyFrame(withTail).toString(), 'abcabcabcabcx');
  });

  test('a gzip payload inside an image is found and must be a whole ELF', () => {
    const elf = fakeElf(4096);
    assert.ok(isCompleteElf64(elf));
    assert.ok(!isCompleteElf64(elf.subarray(0, 2048)));
    const image = Buffer.concat([Buffer.alloc(1000, 1), gzipSync(elf), Buffer.alloc(100, 2)]);
    const found = extractVmlinux(image);
    assert.equal(found.codec, 'gzip');
    assert.deepEqual(found.elf, elf);
    assert.throws(() => extractVmlinux(Buffer.alloc(4096, 3)), /no compressed vmlinux/);
  });
});

describe('microvm: restore pool', () => {
  test('keeps `size` targets per key, skips dead ones, disposes on close', async () => {
    let made = 0;
    const disposed: number[] = [];
    const items = new Map<number, { n: number; dead: boolean; alive: () => boolean }>();
    const pool = new RestorePool(
      2,
      async () => {
        const n = ++made;
        const item = { n, dead: false, alive: () => !item.dead };
        items.set(n, item);
        return item;
      },
      async (i) => {
        disposed.push(i.n);
      },
      () => {},
      0,
    );
    assert.equal(pool.take('k'), undefined);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(made, 2);
    (items.get(1) as { dead: boolean }).dead = true;
    assert.equal(pool.take('k')?.n, 2);
    await new Promise((r) => setTimeout(r, 20));
    await pool.close();
    assert.ok(disposed.includes(1));
    assert.equal(disposed.length, made - 1);
  });
});
