import { useEffect, useState } from "preact/hooks";
import { Chat } from "../chat.js";
import { ApiError } from "../lib/http.js";
import { forgetCredentials, loadSavedCredentials, saveCredentials, type Credentials } from "../lib/keystore.js";
import { Shell } from "./shell.js";
import { SignIn } from "./signin.js";

/** Where the API and the socket live: the page's own origin and directory. */
function endpoints(): { baseUrl: string; wsUrl: string } {
  const dir = location.pathname.replace(/[^/]*$/, "").replace(/\/$/, "");
  const baseUrl = `${location.origin}${dir}`;
  return { baseUrl, wsUrl: `${baseUrl.replace(/^http/, "ws")}/` };
}

export function App() {
  const { baseUrl, wsUrl } = endpoints();
  const [creds, setCreds] = useState<Credentials | undefined>(() => loadSavedCredentials());
  const [chat, setChat] = useState<Chat>();
  const [error, setError] = useState<string>();
  const [, setVersion] = useState(0);

  useEffect(() => {
    if (!creds) return;
    const c = new Chat(creds, baseUrl, wsUrl);
    const unsubscribe = c.subscribe(() => setVersion(c.version));
    let live = true;
    c.start().then(
      () => {
        if (!live) return;
        saveCredentials(creds);
        setChat(c);
      },
      (e: unknown) => {
        if (!live) return;
        c.stop();
        if (e instanceof ApiError && e.code === 401) forgetCredentials();
        setError(e instanceof ApiError && e.code === 401 ? "This keystore was not accepted by the server (unknown user or session)." : `Could not sign in: ${(e as Error).message}`);
        setCreds(undefined);
      },
    );
    return () => {
      live = false;
      unsubscribe();
      c.stop();
    };
  }, [creds]);

  useEffect(() => {
    if (chat?.connection === "unauthorized") {
      setError("The server no longer accepts this keystore.");
      chat.signOut();
      setChat(undefined);
      setCreds(undefined);
    }
  }, [chat?.connection]);

  if (!creds) return <SignIn baseUrl={baseUrl} error={error} onSignedIn={(c) => (setError(undefined), setCreds(c))} />;
  if (!chat) return <div class="loading">Signing in…</div>;
  return (
    <Shell
      chat={chat}
      onSignOut={() => {
        chat.signOut();
        setChat(undefined);
        setCreds(undefined);
      }}
    />
  );
}
