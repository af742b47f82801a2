/**
 * Progress on long runs: a redrawn status line on a terminal, plain log lines otherwise
 * (CI logs, pipes). Writes to stderr so stdout stays for results.
 */
export interface Progress {
  update(text: string): void;
  log(line: string): void;
  done(): void;
}

export function progress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (quiet) return { update() {}, log() {}, done() {} };
  if (!stream.isTTY) {
    return {
      update(text) {
        stream.write(text + '\n');
      },
      log(line) {
        stream.write(line + '\n');
      },
      done() {},
    };
  }
  let shown = false;
  const clear = () => {
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  return {
    update(text) {
      clear();
      const width = stream.columns ?? 100;
      stream.write(text.length > width - 1 ? text.slice(0, width - 2) + '…' : text);
      shown = true;
    },
    log(line) {
      clear();
      stream.write(line + '\n');
    },
    done: clear,
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
