// --device / --precision / --gpu for the commands that take them outside the generation knobs (doctor, parity,
// bench): parsed and checked against src/core/device.ts, so a wrong combination is one line, exit status 2.
import { Option, type Command } from 'commander';
import { DEVICES, PRECISIONS, resolvePrecision, type Device, type Precision } from '../core/device.ts';
import { CnextError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';

export interface DeviceFlags {
  device?: string;
  precision?: string;
  gpu?: string;
}

export interface DeviceTarget {
  readonly device: Device;
  readonly precision: Precision;
  readonly deviceId?: number;
}

export function addDeviceFlags(cmd: Command, defaultDevice = 'cpu'): Command {
  return cmd
    .addOption(new Option('--device <name>', `where the networks run: ${DEVICES.join(' or ')} (default ${defaultDevice})`))
    .addOption(new Option('--precision <p>', `${PRECISIONS.join(', ')} (default: fp32 on cpu, fp16 on cuda; cpu runs fp32 only)`))
    .addOption(new Option('--gpu <n>', 'CUDA device number (default 0)'));
}

const oneOf = <T extends string>(list: readonly T[], v: string): v is T => (list as readonly string[]).includes(v);

/** The checked target, or a CnextError (user: exit 2) naming the flag. */
export function parseDeviceFlags(o: DeviceFlags, defaultDevice: Device = 'cpu'): DeviceTarget {
  const device = o.device ?? defaultDevice;
  if (!oneOf(DEVICES, device)) throw invalidParameterError('--device', `one of ${DEVICES.join(', ')}`, device);
  if (o.precision !== undefined && !oneOf(PRECISIONS, o.precision)) {
    throw invalidParameterError('--precision', `one of ${PRECISIONS.join(', ')}`, o.precision);
  }
  const precision = resolvePrecision(device, o.precision as Precision | undefined);
  if (o.gpu === undefined) return { device, precision };
  const id = Number(o.gpu);
  if (!/^\d+$/.test(o.gpu) || !Number.isSafeInteger(id)) throw invalidParameterError('--gpu', 'integer ≥ 0', o.gpu);
  if (device !== 'cuda') {
    throw new CnextError('INVALID_PARAMETER', `--gpu ${o.gpu} needs --device cuda`, { solutions: [`Add --device cuda, or drop --gpu`] });
  }
  return { device, precision, deviceId: id };
}
