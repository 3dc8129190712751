/**
 * Event-loop delay of a benchmark child over a measured window (perf_hooks.monitorEventLoopDelay,
 * 1 ms resolution): the parent writes `loop-delay:reset` on the child's stdin when its window
 * starts and `loop-delay:report` when it ends; the child answers the report with one JSON line.
 * A stall in the server (index work, a long synchronous query, GC) shows here even when the
 * request latencies hide it among queueing. The report also counts the window's garbage collections.
 */
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

export interface LoopDelay {
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  /** Garbage collections in the window: count and total pause ms, young generation and full. */
  gc?: { minor: number; minorMs: number; major: number; majorMs: number };
}

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

/** In a child: answers the parent's loop-delay commands on stdin (call once, after the ready line). */
export function answerLoopDelayCommands(): void {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        gc.minor++;
        gc.minorMs += entry.duration;
      } else {
        gc.major++;
        gc.majorMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'loop-delay:reset') {
      histogram.reset();
      gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
    } else if (line === 'loop-delay:report') {
      const loopDelay: LoopDelay = {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        gc: { ...gc, minorMs: Math.round(gc.minorMs), majorMs: Math.round(gc.majorMs) },
      };
      process.stdout.write(`${JSON.stringify({ loopDelay })}\n`);
    }
  });
}
