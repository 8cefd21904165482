// Hand-crafted malicious pickles: each one, given to Python's pickle.loads (or torch.load with
// weights_only=False), runs `touch <marker>`. Checked once by hand with CPython 3.11: every marker appeared.
// Our unpickler must refuse each one by name, and the marker must never appear.

const enc = (s: string) => Buffer.from(s, 'utf8');

function binunicode(s: string): Buffer {
  const b = enc(s);
  const h = Buffer.alloc(5);
  h[0] = 0x58;
  h.writeUInt32LE(b.length, 1);
  return Buffer.concat([h, b]);
}

function shortUnicode(s: string): Buffer {
  const b = enc(s);
  return Buffer.concat([Buffer.from([0x8c, b.length]), b]);
}

/** GLOBAL module.name, then call it with one string argument (protocol 2). */
export function callWithString(module: string, name: string, arg: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x02]),
    enc(`c${module}\n${name}\n`), Buffer.from([0x71, 0x00]),
    binunicode(arg), Buffer.from([0x71, 0x01]),
    Buffer.from([0x85, 0x71, 0x02]), // TUPLE1 BINPUT
    Buffer.from([0x52, 0x71, 0x03]), // REDUCE BINPUT
    Buffer.from([0x2e]),
  ]);
}

export const posixSystem = (marker: string) => callWithString('posix', 'system', `touch ${marker}`);
export const osSystem = (marker: string) => callWithString('os', 'system', `touch ${marker}`);
export const builtinsEval = (marker: string) =>
  callWithString('builtins', 'eval', `__import__('os').system('touch ${marker}')`);

/** Protocol 4: STACK_GLOBAL subprocess.Popen(['touch', marker]). */
export function subprocessPopen(marker: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x04]),
    shortUnicode('subprocess'), shortUnicode('Popen'), Buffer.from([0x93]),
    Buffer.from([0x28]), shortUnicode('touch'), shortUnicode(marker), Buffer.from([0x6c]), // MARK … LIST
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1 REDUCE STOP
  ]);
}

/** INST: MARK, argument, `i os\nsystem\n` — calls os.system(arg) without any GLOBAL opcode. */
export function instOsSystem(marker: string): Buffer {
  return Buffer.concat([Buffer.from([0x80, 0x02, 0x28]), binunicode(`touch ${marker}`), enc('ios\nsystem\n'), Buffer.from([0x2e])]);
}

/** A state dict that looks legitimate until its second value: OrderedDict({'ok': 1, 'w': posix.system(...)}). */
export function stateDictWithPayload(marker: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x02]),
    enc('ccollections\nOrderedDict\n'), Buffer.from([0x71, 0x00, 0x29, 0x52, 0x71, 0x01]),
    Buffer.from([0x28]), // MARK
    binunicode('ok'), Buffer.from([0x4b, 0x01]),
    binunicode('w'),
    enc('cposix\nsystem\n'), binunicode(`touch ${marker}`), Buffer.from([0x85, 0x52]),
    Buffer.from([0x75, 0x2e]), // SETITEMS STOP
  ]);
}
