/** A failure the page shows and announces (role=alert); nothing when there is none. */
export function ErrorAlert({ error, id }: { error: string | null | undefined; id?: string }) {
  if (!error) return null;
  return (
    <p id={id} class="error" role="alert">
      {error}
    </p>
  );
}
