import { useState } from "preact/hooks";
import { toBase64Url, toHex } from "../lib/bytes.js";
import { newSeed, publicKeyOf } from "../lib/crypto.js";
import { signup } from "../lib/http.js";
import { parseKeystore, type Credentials } from "../lib/keystore.js";

function signupEnabled(): boolean {
  return document.querySelector('meta[name="openblaze-signup"]')?.getAttribute("content") === "on";
}

export function SignIn({ baseUrl, error: initialError, onSignedIn }: { baseUrl: string; error?: string | undefined; onSignedIn(c: Credentials): void }) {
  const [text, setText] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState(initialError);
  const [busy, setBusy] = useState(false);

  const useKeystore = (json: string) => {
    try {
      onSignedIn(parseKeystore(json));
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const readFile = async (files: FileList | null) => {
    const file = files?.[0];
    if (!file) return;
    if (file.size > 64 * 1024) return setError("That file is too large to be a keystore.");
    const json = await file.text();
    setText(json);
    useKeystore(json);
  };

  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      // The key pair is made here; only its public half goes to the server.
      const seed = newSeed();
      const result = await signup(baseUrl, name.trim(), toBase64Url(publicKeyOf(seed)));
      useKeystore(JSON.stringify({ ...result.keystore, session_private_key: toHex(seed) }));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <div class="signin-card">
        <h1>openblaze</h1>
        <p class="lead">Chat with your bots and people on this server.</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            useKeystore(text);
          }}
        >
          <label for="keystore">Keystore</label>
          <textarea
            id="keystore"
            name="keystore"
            rows={7}
            spellcheck={false}
            placeholder={'{\n  "app_id": "…",\n  "session_id": "…",\n  "session_private_key": "…"\n}'}
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          />
          <div class="signin-row">
            <label class="file-button">
              Open keystore file…
              <input type="file" accept=".json,application/json" class="hidden" onChange={(e) => void readFile((e.currentTarget as HTMLInputElement).files)} />
            </label>
            <button type="submit" class="primary" disabled={!text.trim()}>
              Sign in
            </button>
          </div>
          <p class="hint">
            Create one with <code>openblaze user create --name "Your Name"</code>. It stays in this browser only (local storage) and signs each request here; it is
            never sent to the server.
          </p>
        </form>
        {signupEnabled() && (
          <form
            class="signup"
            onSubmit={(e) => {
              e.preventDefault();
              void create();
            }}
          >
            <h2>New here?</h2>
            <p class="hint">This server runs in development mode, so anyone can create an account.</p>
            <div class="signin-row">
              <input name="full-name" placeholder="Your name" value={name} maxLength={128} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
              <button type="submit" disabled={busy || !name.trim()}>
                Create account
              </button>
            </div>
          </form>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </div>
    </main>
  );
}
