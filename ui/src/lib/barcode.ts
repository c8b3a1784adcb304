// Turns the till's Code 128 module string ("1" = black module, "0" = white) into bars for an SVG.

export interface Bar {
  x: number; // in modules, from the left edge of the symbol
  width: number; // in modules
}

// Runs of consecutive black modules, each one bar. Characters other than "1" are white.
export function barsFromModules(modules: string): Bar[] {
  const bars: Bar[] = [];
  let start = -1;
  for (let i = 0; i <= modules.length; i++) {
    const black = i < modules.length && modules[i] === "1";
    if (black && start < 0) start = i;
    if (!black && start >= 0) {
      bars.push({ x: start, width: i - start });
      start = -1;
    }
  }
  return bars;
}
