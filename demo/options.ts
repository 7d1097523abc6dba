/**
 * The options of `npm run demo:scaling`, parsed and validated at start-up: each bad value names the
 * flag and its allowed range (INVALID_ARGUMENT).
 */
import { InvalidArgumentError } from "../common/index.js";

export interface DemoOptions {
  /** Length of the load profile (up, hold, down), seconds. */
  durationS: number;
  /** Highest input rate of the profile, events/s. */
  peakRate: number;
  minParallelism: number;
  maxParallelism: number;
  /** Distinct routing keys the generator writes (k0..k(keys-1)). */
  keys: number;
  /** Where index.html, series.json and run.log go. */
  out: string;
  /** The Java job's poll interval and stable polls (its SegmentCountRescaler). */
  pollMs: number;
  stablePolls: number;
  /** The Java job's least time between two rescales. */
  cooldownMs: number;
  checkpointMs: number;
  /** The standalone's scaling cooldown (a segment younger than this is neither split nor merged). */
  scaleCooldownMs: number;
  /**
   * A TypeScript stand-in for the Java job (speaking its JSON-lines protocol), run with this Node
   * instead of building connector-flink and running io.sluice.demo.ScalingDemoJob. For tests.
   */
  jobScript: string | undefined;
}

interface IntFlag {
  key: Exclude<keyof DemoOptions, "out" | "jobScript">;
  default: number;
  min: number;
  max: number;
}

const intFlags: Record<string, IntFlag> = {
  "--duration-s": { key: "durationS", default: 200, min: 20, max: 24 * 3600 },
  "--peak-rate": { key: "peakRate", default: 2_000, min: 10, max: 1_000_000 },
  "--min-parallelism": { key: "minParallelism", default: 1, min: 1, max: 64 },
  "--max-parallelism": { key: "maxParallelism", default: 4, min: 1, max: 64 },
  "--keys": { key: "keys", default: 64, min: 1, max: 100_000 },
  "--poll-ms": { key: "pollMs", default: 1_000, min: 100, max: 60_000 },
  "--stable-polls": { key: "stablePolls", default: 2, min: 1, max: 100 },
  "--cooldown-ms": { key: "cooldownMs", default: 5_000, min: 0, max: 600_000 },
  "--checkpoint-ms": { key: "checkpointMs", default: 1_000, min: 100, max: 600_000 },
  "--scale-cooldown-ms": { key: "scaleCooldownMs", default: 5_000, min: 0, max: 600_000 },
};

export const demoUsage = `npm run demo:scaling -- [--duration-s 200] [--peak-rate 2000] [--max-parallelism 4] [--out demo-report]
  other flags: ${Object.keys(intFlags)
    .filter((f) => !["--duration-s", "--peak-rate", "--max-parallelism"].includes(f))
    .join(" N, ")} N, --job-script FILE (a TypeScript stand-in for the Java job)`;

/** Parses `--name value` pairs. Raises INVALID_ARGUMENT for an unknown flag, a missing value or a value out of range. */
export function parseDemoOptions(argv: readonly string[]): DemoOptions {
  const options: DemoOptions = { out: "demo-report", jobScript: undefined } as DemoOptions;
  for (const f of Object.values(intFlags)) options[f.key] = f.default;
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new InvalidArgumentError(`${flag} needs a value\n${demoUsage}`);
    if (flag === "--out") {
      options.out = value;
      continue;
    }
    if (flag === "--job-script") {
      options.jobScript = value;
      continue;
    }
    const spec = intFlags[flag];
    if (spec === undefined) throw new InvalidArgumentError(`unknown flag ${flag}\n${demoUsage}`);
    const n = Number(value);
    if (!Number.isInteger(n) || n < spec.min || n > spec.max) throw new InvalidArgumentError(`${flag} ${value}: must be an integer in [${spec.min}, ${spec.max}]`);
    options[spec.key] = n;
  }
  if (options.minParallelism > options.maxParallelism) {
    throw new InvalidArgumentError(`--min-parallelism ${options.minParallelism} is above --max-parallelism ${options.maxParallelism}`);
  }
  return options;
}
