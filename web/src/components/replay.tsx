import { Terminal } from '@xterm/xterm';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { position } from '../format.ts';
import type { Mark, Recording } from './recording.ts';

const SPEEDS = [0.5, 1, 2, 4, 8];
/** While playing, a pause longer than this (recording time) is skipped when "skip idle" is on. */
const IDLE_MS = 2000;

/**
 * Terminal replay of an interactive session (SSH now; any `*.output` / `*.resize` recording): play, pause,
 * speed, seek, jump to the next command. The terminal is rebuilt by writing the recorded output up to the
 * chosen instant, the way src/recording/asciicast.ts turns the same events into an asciicast.
 */
export function Replay({ rec, live, startAt }: { rec: Recording; live: boolean; startAt?: number }) {
  const root = useRef<HTMLDivElement>(null);
  const screen = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal>();
  /** Frames already written to the terminal. */
  const applied = useRef(0);
  const pos = useRef(0);
  const recRef = useRef(rec);
  recRef.current = rec;
  const [shown, setShown] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const [skipIdle, setSkipIdle] = useState(true);
  const [follow, setFollow] = useState(live);

  const render = (t: number) => {
    const r = recRef.current;
    const x = term.current;
    if (!x) return;
    if (applied.current > 0 && r.frames[applied.current - 1].t > t) {
      x.reset();
      x.resize(r.cols, r.rows);
      applied.current = 0;
    }
    while (applied.current < r.frames.length && r.frames[applied.current].t <= t) {
      const f = r.frames[applied.current++];
      if (f.size) x.resize(f.size.cols, f.size.rows);
      else if (f.data) x.write(f.data);
    }
    pos.current = t;
    setShown(t);
    const el = root.current;
    if (el) {
      el.dataset.position = String(Math.round(t));
      // Tests (and anyone scripting the page) wait for this: the terminal shows the screen at `t`. The write
      // callback means parsed; the terminal draws its rows in the next animation frame, whose callback was
      // requested before this one, so this runs once they are drawn.
      x.write('', () => requestAnimationFrame(() => (el.dataset.rendered = String(Math.round(t)))));
    }
  };
  const seek = (t: number) => render(Math.max(0, Math.min(recRef.current.end, t)));

  useEffect(() => {
    const x = new Terminal({
      cols: rec.cols, rows: rec.rows, disableStdin: true, cursorBlink: false, scrollback: 2000, fontSize: 13, convertEol: false,
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace", theme: { background: '#0d1117', foreground: '#e6edf3' },
    });
    x.open(screen.current!);
    term.current = x;
    render(startAt ?? (live ? rec.end : 0));
    return () => x.dispose();
  }, []);

  // A live session grows: follow its end unless the viewer moved away from it.
  useEffect(() => {
    if (follow && !playing) render(rec.end);
  }, [rec.frames.length, follow]);

  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let raf = 0;
    const tick = (now: number) => {
      const r = recRef.current;
      let t = pos.current + (now - last) * speed;
      last = now;
      const next = r.frames[applied.current];
      if (skipIdle && next && next.t - t > IDLE_MS) t = next.t - 250;
      if (t >= r.end) {
        render(r.end);
        setPlaying(false);
        return;
      }
      render(t);
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [playing, speed, skipIdle]);

  const nextMark = rec.marks.find((m) => m.t > pos.current + 1);
  const toggle = () => {
    setFollow(false);
    if (!playing && pos.current >= rec.end) render(0);
    setPlaying(!playing);
  };
  const jumpNext = () => {
    setFollow(false);
    if (nextMark) seek(nextMark.t);
  };
  const onKey = (e: KeyboardEvent) => {
    // Controls handle their own keys (space on a focused button already clicks it).
    if (['BUTTON', 'INPUT', 'SELECT'].includes((e.target as HTMLElement).tagName)) return;
    if (e.key === ' ') {
      e.preventDefault();
      toggle();
    } else if (e.key === 'ArrowRight' && e.shiftKey) {
      e.preventDefault();
      jumpNext();
    }
  };

  return (
    <div>
      <div class="player" id="replay" ref={root} tabIndex={0} onKeyDown={onKey} data-state={playing ? 'playing' : 'paused'}>
        <div class="screen" ref={screen} />
        <div class="controls">
          <button type="button" id="replay-play" onClick={toggle} title="Play / pause (space)">{playing ? '❚❚ Pause' : '▶ Play'}</button>
          <button type="button" id="replay-next" onClick={jumpNext} disabled={!nextMark} title="Next command (shift + →)">Next command »</button>
          <input
            id="replay-seek" type="range" min={0} max={Math.round(rec.end)} step={1} value={Math.round(shown)} aria-label="position"
            onInput={(e) => {
              setFollow(false);
              seek(Number((e.target as HTMLInputElement).value));
            }}
          />
          <span class="pos" id="replay-position">{position(shown)} / {position(rec.end)}</span>
          <select id="replay-speed" value={String(speed)} onChange={(e) => setSpeed(Number((e.target as HTMLSelectElement).value))} aria-label="speed">
            {SPEEDS.map((s) => <option value={String(s)}>{s}×</option>)}
          </select>
          <label class="check"><input type="checkbox" checked={skipIdle} onChange={(e) => setSkipIdle((e.target as HTMLInputElement).checked)} /> skip idle</label>
          {live && <label class="check"><input type="checkbox" id="replay-follow" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> follow live</label>}
        </div>
      </div>
      {rec.marks.length > 0 && <Commands marks={rec.marks} at={shown} onSeek={(t) => { setFollow(false); seek(t); }} />}
    </div>
  );
}

function Commands({ marks, at, onSeek }: { marks: Mark[]; at: number; onSeek: (t: number) => void }) {
  const current = useMemo(() => marks.filter((m) => m.t <= at + 1).length - 1, [marks, at]);
  return (
    <table class="grid commands" id="replay-commands">
      <thead><tr><th>At</th><th>Command</th><th>Outcome</th></tr></thead>
      <tbody>
        {marks.map((m, i) => (
          <tr key={m.seq} class={`clickable${i === current ? ' current' : ''}`} onClick={() => onSeek(m.t)}>
            <td class="nowrap code">{position(m.t)}</td>
            <td class="code">{m.text}</td>
            <td><span class={`outcome ${m.outcome}`}>{m.outcome}</span></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
