/**
 * Logging: one line per record on stderr, `time level component message {fields}`. The level comes
 * from SLUICE_LOG_LEVEL (error, warn, info, debug); the default is info.
 */

export type LogLevel = "error" | "warn" | "info" | "debug";
const levelRank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function levelFromEnv(): LogLevel {
  const v = process.env["SLUICE_LOG_LEVEL"];
  return v === "error" || v === "warn" || v === "info" || v === "debug" ? v : "info";
}

let threshold = levelRank[levelFromEnv()];

export function setLogLevel(level: LogLevel): void {
  threshold = levelRank[level];
}

export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

function render(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const s = v instanceof Error ? `${v.name}: ${v.message}` : typeof v === "string" ? v : JSON.stringify(v);
    parts.push(`${k}=${s}`);
  }
  return parts.length === 0 ? "" : " " + parts.join(" ");
}

export function logger(component: string): Logger {
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (levelRank[level] > threshold) return;
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${component} ${message}${render(fields)}\n`);
  };
  return {
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
  };
}
