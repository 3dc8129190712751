/**
 * The /ui/live socket: one per page, reconnecting with capped exponential backoff. Listeners get
 * every frame; `onReconnect` listeners run after a socket reopens, so each page re-reads what it
 * shows (frames sent while the socket was down are not replayed).
 */
import type { LiveFrame } from './types.js';

type FrameListener = (frame: LiveFrame) => void;
type Listener = () => void;

const MIN_DELAY_MS = 500;
/** The server's close code when the login behind the socket expired or was revoked. */
const CLOSE_LOGIN_ENDED = 4001;
const MAX_DELAY_MS = 15_000;

export type LiveState = 'connecting' | 'open' | 'closed';

export class LiveClient {
  private socket: WebSocket | null = null;
  private readonly frameListeners = new Set<FrameListener>();
  private readonly reconnectListeners = new Set<Listener>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private delay = MIN_DELAY_MS;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private opened = false;
  private stopped = true;
  state: LiveState = 'closed';
  /**
   * Called when the socket was refused or closed for its login: the app asks GET me, whose 401
   * shows the login form (a socket's refusal carries no status the page can read).
   */
  onAuthDoubt: () => void = () => {};

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Closes the socket and stops reconnecting (logout, 401). */
  stop(): void {
    this.stopped = true;
    this.opened = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close();
    this.socket = null;
    this.setState('closed');
  }

  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onReconnect(listener: Listener): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: LiveState): void {
    this.state = state;
    for (const l of this.stateListeners) l(state);
  }

  private connect(): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ui/live`);
    this.socket = socket;
    this.setState('connecting');
    socket.onopen = () => {
      this.delay = MIN_DELAY_MS;
      this.setState('open');
      // The first open needs no re-read: pages load their data as they mount.
      if (this.opened) for (const l of this.reconnectListeners) l();
      this.opened = true;
    };
    socket.onmessage = (event) => {
      let frame: LiveFrame;
      try {
        frame = JSON.parse(String(event.data)) as LiveFrame;
      } catch {
        return;
      }
      for (const l of this.frameListeners) l(frame);
    };
    let wasOpen = false;
    socket.addEventListener('open', () => (wasOpen = true));
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setState('closed');
      if (this.stopped) return;
      if (event.code === CLOSE_LOGIN_ENDED || !wasOpen) this.onAuthDoubt();
      // Jitter keeps many tabs from reconnecting in lockstep after a server restart.
      const wait = this.delay * (0.75 + Math.random() * 0.5);
      this.delay = Math.min(MAX_DELAY_MS, this.delay * 2);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.stopped) this.connect();
      }, wait);
    };
  }
}

export const live = new LiveClient();
