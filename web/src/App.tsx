// The page: login, then the shell (left nav, header with the user) around the routes.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Link, Redirect, Route, Switch, useLocation, useParams, useSearch } from 'wouter';
import { mayAdopt } from './adopt';
import { Api, errorText } from './api';
import { useLoad } from './hooks';
import { Live, LiveContext, useLiveState } from './live';
import { NameCache, NamesContext } from './names';
import { Adopt } from './pages/Adopt';
import { Dashboard } from './pages/Dashboard';
import { Login } from './pages/Login';
import { ModelTable } from './pages/ModelTable';
import { EditObject, NewObject } from './pages/ObjectForm';
import { ObjectPage } from './pages/ObjectPage';
import {
  familyOf,
  loadRegistry,
  readable,
  RegistryContext,
  useRegistry,
  type Registry,
} from './registry';
import {
  announceLogout,
  onLogoutElsewhere,
  SessionContext,
  storedToken,
  storeToken,
  tokenFromOtherTabs,
  useSession,
  type Session,
} from './session';
import type { ModelInfo, WhoAmI } from './types';

// The graph and the recipe editor are large: loaded when first opened.
const Graph = lazy(() => import('./pages/Graph').then((m) => ({ default: m.Graph })));
const Tosca = lazy(() => import('./pages/Tosca').then((m) => ({ default: m.Tosca })));

function NavLink({
  href,
  children,
  exact = false,
}: {
  href: string;
  children: ReactNode;
  exact?: boolean;
}) {
  const [location] = useLocation();
  const active = exact ? location === href : location === href || location.startsWith(`${href}/`);
  return (
    <Link
      href={href}
      className={active ? 'active' : undefined}
      aria-current={active ? 'page' : undefined}
    >
      {children}
    </Link>
  );
}

function Nav() {
  const registry = useRegistry();
  const { user } = useSession();
  return (
    <nav className="nav" aria-label="main">
      <div className="brand">Syncord</div>
      <NavLink href="/" exact>
        Dashboard
      </NavLink>
      <NavLink href="/graph">Graph</NavLink>
      <NavLink href="/tosca">TOSCA</NavLink>
      {mayAdopt(user) && <NavLink href="/adopt">Adopt</NavLink>}
      <div className="nav-heading">Models</div>
      {registry.models
        .filter((m) => readable(user.role, m.name))
        .map((m) => (
          <NavLink key={m.name} href={`/models/${m.name}`}>
            {m.name}
          </NavLink>
        ))}
    </nav>
  );
}

function LiveIndicator() {
  const state = useLiveState();
  const label = {
    idle: 'idle',
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'reconnecting…',
  }[state];
  return (
    <span className={`live live-${state}`} title="updates from the watch stream" data-testid="live">
      {label}
    </span>
  );
}

function Header() {
  const { user, logout } = useSession();
  const registry = useRegistry();
  return (
    <header className="topbar">
      {registry.approximate && (
        <span className="warning" title="the gateway has no GET /api/v1/models">
          model registry approximated from openapi.json
        </span>
      )}
      <span className="spacer" />
      <LiveIndicator />
      <span className="whoami" data-testid="whoami">
        {user.name} ({user.role})
      </span>
      <button type="button" onClick={logout} data-testid="logout">
        Log out
      </button>
    </header>
  );
}

/** Looks up the route's model; an unknown name is said so. */
function WithModel({ children }: { children: (model: ModelInfo, id: number) => ReactNode }) {
  const params = useParams<{ model: string; id?: string }>();
  const registry = useRegistry();
  const model = registry.byName.get(params.model);
  if (!model) return <NotFound what={`no model named ${params.model}`} />;
  const id = params.id === undefined ? 0 : Number(params.id);
  if (params.id !== undefined && !(Number.isInteger(id) && id > 0)) {
    return <NotFound what={`${params.id} is not an id`} />;
  }
  return <>{children(model, id)}</>;
}

function NotFound({ what }: { what: string }) {
  return (
    <section className="page">
      <h1>Not found</h1>
      <p>{what}.</p>
      <Link href="/">Back to the dashboard</Link>
    </section>
  );
}

function Routes() {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <Switch>
        <Route path="/">
          <Dashboard />
        </Route>
        <Route path="/graph">
          <Graph />
        </Route>
        <Route path="/tosca">
          <Tosca />
        </Route>
        <Route path="/adopt">
          <Adopt />
        </Route>
        <Route path="/login">
          <Redirect to="/" replace />
        </Route>
        <Route path="/models/:model/new">
          <WithModel>{(m) => <NewObject key={m.name} model={m} />}</WithModel>
        </Route>
        <Route path="/models/:model/:id/edit">
          <WithModel>
            {(m, id) => <EditObject key={`${m.name}/${String(id)}`} model={m} id={id} />}
          </WithModel>
        </Route>
        <Route path="/models/:model/:id">
          <WithModel>
            {(m, id) => <ObjectPage key={`${m.name}/${String(id)}`} model={m} id={id} />}
          </WithModel>
        </Route>
        <Route path="/models/:model">
          <WithModel>{(m) => <ModelTable key={m.name} model={m} />}</WithModel>
        </Route>
        <Route>
          <NotFound what="no such page" />
        </Route>
      </Switch>
    </Suspense>
  );
}

/** The logged-in page: the session, the registry, the watch and the name cache around it. */
function Shell({ session, registry }: { session: Session; registry: Registry }) {
  const live = useMemo(
    () => new Live(session.api, (m) => familyOf(registry, m), session.logout),
    [session, registry],
  );
  useEffect(
    () => () => {
      live.close();
    },
    [live],
  );
  const names = useMemo(() => new NameCache(session.api), [session.api]);
  return (
    <SessionContext value={session}>
      <RegistryContext value={registry}>
        <LiveContext value={live}>
          <NamesContext value={names}>
            <div className="shell">
              <Nav />
              <div className="main">
                <Header />
                <main className="content">
                  <Routes />
                </main>
              </div>
            </div>
          </NamesContext>
        </LiveContext>
      </RegistryContext>
    </SessionContext>
  );
}

function Splash({ text, onLogout }: { text: string; onLogout?: () => void }) {
  return (
    <main className="login">
      <div className="login-form">
        <h1>Syncord</h1>
        <p>{text}</p>
        {onLogout && (
          <button type="button" onClick={onLogout} data-testid="logout">
            Log out
          </button>
        )}
      </div>
    </main>
  );
}

export function App() {
  const [token, setToken] = useState(storedToken);
  // A tab without a token first asks the page's other tabs for theirs (session.ts).
  const [asked, setAsked] = useState(() => token !== null);
  const [location, navigate] = useLocation();
  const search = useSearch();
  const signOut = useCallback(() => {
    storeToken(null);
    setToken(null);
  }, []);
  const api = useMemo(() => new Api(token, signOut), [token, signOut]);
  const who = useLoad<WhoAmI>(token, () => api.whoami());
  const registry = useLoad<Registry>(who.data && token ? token : null, () => loadRegistry(api));
  useEffect(() => {
    if (asked) return undefined;
    let current = true;
    void tokenFromOtherTabs().then((t) => {
      if (!current) return;
      if (t) {
        storeToken(t);
        setToken(t);
      }
      setAsked(true);
    });
    return () => {
      current = false;
    };
  }, [asked]);
  useEffect(() => onLogoutElsewhere(signOut), [signOut]);
  const logout = useCallback(() => {
    api.logout().catch(() => undefined);
    announceLogout();
    signOut();
    navigate('/login');
  }, [api, signOut, navigate]);
  const session = useMemo<Session | null>(
    () => (who.data ? { api, user: who.data, logout } : null),
    [api, who.data, logout],
  );

  if (!token && !asked) return <Splash text="Loading…" />;
  if (!token) {
    if (location !== '/login') {
      const next = `${location}${search ? `?${search}` : ''}`;
      return (
        <Redirect to={`/login${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />
      );
    }
    return (
      <Login
        onLogin={(t) => {
          storeToken(t);
          setToken(t);
          const next = new URLSearchParams(search).get('next');
          navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
        }}
      />
    );
  }
  if (who.error !== undefined)
    return (
      <Splash text={`Could not reach the server: ${errorText(who.error)}`} onLogout={logout} />
    );
  if (registry.error !== undefined) {
    return (
      <Splash text={`Could not read the models: ${errorText(registry.error)}`} onLogout={logout} />
    );
  }
  if (!session || !registry.data || who.loading) return <Splash text="Loading…" />;
  return <Shell session={session} registry={registry.data} />;
}
