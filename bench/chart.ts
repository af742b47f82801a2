/**
 * An SVG chart of a suite run, for people: per size and codec, one bar per contender for rows/s
 * (left) and for peak memory (right), heaplake's bars in orange, the floors in grey (their
 * rows/s bars are clipped: they run many times faster than any converter). Plain SVG.
 */
interface ChartFigure {
  contender: string;
  size: number;
  codec: string;
  rowsPerSecond?: number;
  peakRssMiB?: number;
  skipped?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function svgChart(figures: readonly ChartFigure[], machine: { node: string; cpus: number; date: string }): string {
  const groups = [...new Set(figures.map((f) => `${f.size}|${f.codec}`))];
  const contenders = [...new Set(figures.map((f) => f.contender))];
  const barH = 14;
  const groupH = contenders.length * barH + 34;
  const labelW = 170;
  const panelW = 330;
  const width = labelW + 2 * panelW + 60;
  const height = 50 + groups.length * groupH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">heaplake benchmark suite, ${esc(machine.date)}: rows/s (left) and peak RSS in MiB (right)</text>`,
    `<text x="10" y="34" fill="#555">Node ${esc(machine.node)}, ${machine.cpus} CPU(s); longer bars: faster on the left, hungrier on the right</text>`,
  ];
  groups.forEach((g, gi) => {
    const [size, codec] = g.split('|');
    const rows = figures.filter((f) => `${f.size}|${f.codec}` === g);
    // the floors run many times faster than any converter: scale to the converters, clip the floors
    const maxRate = Math.max(1, ...rows.filter((f) => !f.contender.startsWith('floor')).map((f) => f.rowsPerSecond ?? 0)) * 1.15;
    const maxRss = Math.max(1, ...rows.map((f) => f.peakRssMiB ?? 0));
    const top = 50 + gi * groupH;
    out.push(`<text x="10" y="${top + 12}" font-weight="bold">${Number(size).toLocaleString('en-US')} rows, ${esc(codec!)}</text>`);
    contenders.forEach((c, ci) => {
      const f = rows.find((x) => x.contender === c);
      const y = top + 20 + ci * barH;
      const colour = c.startsWith('heaplake') ? '#d95f02' : c.startsWith('floor') ? '#999999' : '#1b9e77';
      out.push(`<text x="${labelW - 6}" y="${y + 10}" text-anchor="end">${esc(c)}</text>`);
      if (!f || f.rowsPerSecond === undefined) {
        out.push(`<text x="${labelW + 4}" y="${y + 10}" fill="#999">${f?.skipped ? 'skipped' : 'no figure'}</text>`);
        return;
      }
      const w1 = (Math.min(f.rowsPerSecond, maxRate) / maxRate) * (panelW - 70);
      out.push(`<rect x="${labelW}" y="${y + 1}" width="${w1.toFixed(1)}" height="${barH - 3}" fill="${colour}"/>`);
      const clipped = f.rowsPerSecond > maxRate ? ' ▸ (off the scale)' : '';
      out.push(`<text x="${labelW + w1 + 4}" y="${y + 10}">${Math.round(f.rowsPerSecond).toLocaleString('en-US')}${clipped}</text>`);
      if (f.peakRssMiB !== undefined) {
        const x2 = labelW + panelW + 30;
        const w2 = (f.peakRssMiB / maxRss) * (panelW - 70);
        out.push(`<rect x="${x2}" y="${y + 1}" width="${w2.toFixed(1)}" height="${barH - 3}" fill="${colour}" opacity="0.6"/>`);
        out.push(`<text x="${x2 + w2 + 4}" y="${y + 10}">${Math.round(f.peakRssMiB)}</text>`);
      }
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
