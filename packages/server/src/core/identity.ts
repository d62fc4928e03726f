/** Who is calling, after the token checked out. */
export interface Identity {
  userId: string;
  sessionId: string;
}
