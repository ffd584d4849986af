// The session: the API token (kept in sessionStorage, so it lasts as long as the tab) and who
// it belongs to.
import { createContext, useContext } from 'react';
import type { Api } from './api';
import type { WhoAmI } from './types';

const TOKEN_KEY = 'syncord.token';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the session lasts until the page reloads
  }
}

// sessionStorage is per tab: a tab opened by hand (not by a link) starts empty. Open tabs of the
// page hand their token to a new one over a BroadcastChannel (same origin only), so the token
// still lives only as long as the tabs do; a logout in one tab logs the others out.
type TabMessage = { type: 'ask' } | { type: 'token'; token: string } | { type: 'logout' };

const channel =
  typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('syncord.session');
const logoutListeners = new Set<() => void>();

if (channel) {
  channel.onmessage = (e: MessageEvent<TabMessage>) => {
    const token = storedToken();
    if (e.data.type === 'ask' && token)
      channel.postMessage({ type: 'token', token } satisfies TabMessage);
    if (e.data.type === 'logout') for (const fn of logoutListeners) fn();
  };
}

/** Asks the page's other tabs for their token; null when none answers in time. */
export function tokenFromOtherTabs(waitMs = 300): Promise<string | null> {
  if (!channel) return Promise.resolve(null);
  return new Promise((resolve) => {
    const listen = new BroadcastChannel('syncord.session');
    const done = (token: string | null) => {
      clearTimeout(timer);
      listen.close();
      resolve(token);
    };
    const timer = setTimeout(() => {
      done(null);
    }, waitMs);
    listen.onmessage = (e: MessageEvent<TabMessage>) => {
      if (e.data.type === 'token') done(e.data.token);
    };
    listen.postMessage({ type: 'ask' } satisfies TabMessage);
  });
}

/** Tells the other tabs that the user logged out. */
export function announceLogout(): void {
  channel?.postMessage({ type: 'logout' } satisfies TabMessage);
}

/** Calls `fn` when another tab logs out. */
export function onLogoutElsewhere(fn: () => void): () => void {
  logoutListeners.add(fn);
  return () => {
    logoutListeners.delete(fn);
  };
}

export interface Session {
  api: Api;
  user: WhoAmI;
  logout: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}

export function useApi(): Api {
  return useSession().api;
}
