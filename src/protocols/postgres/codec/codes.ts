/**
 * PostgreSQL v3 message type bytes and startup request codes.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Client → server message type bytes. */
export const FrontendCode = {
  Query: 0x51, // 'Q'
  Parse: 0x50, // 'P'
  Bind: 0x42, // 'B'
  Execute: 0x45, // 'E'
  Describe: 0x44, // 'D'
  Close: 0x43, // 'C'
  Sync: 0x53, // 'S'
  Flush: 0x48, // 'H'
  Terminate: 0x58, // 'X'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Password: 0x70, // 'p' (also SASLInitialResponse, SASLResponse, GSSResponse)
  FunctionCall: 0x46, // 'F'
} as const;

export type FrontendCode = (typeof FrontendCode)[keyof typeof FrontendCode];

/** Server → client message type bytes. */
export const BackendCode = {
  Authentication: 0x52, // 'R'
  ParameterStatus: 0x53, // 'S'
  BackendKeyData: 0x4b, // 'K'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
  DataRow: 0x44, // 'D'
  CommandComplete: 0x43, // 'C'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParseComplete: 0x31, // '1'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  NoData: 0x6e, // 'n'
  PortalSuspended: 0x73, // 's'
  ParameterDescription: 0x74, // 't'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  NegotiateProtocolVersion: 0x76, // 'v'
  FunctionCallResponse: 0x56, // 'V'
} as const;

export type BackendCode = (typeof BackendCode)[keyof typeof BackendCode];

/** Protocol version 3.0 (major 3 << 16 | minor 0). */
export const PROTOCOL_3 = 196608;
/** SSLRequest code (1234 << 16 | 5679). */
export const SSL_REQUEST = 80877103;
/** GSSENCRequest code (1234 << 16 | 5680). */
export const GSSENC_REQUEST = 80877104;
/** CancelRequest code (1234 << 16 | 5678). */
export const CANCEL_REQUEST = 80877102;

/** Authentication request sub-codes (Int32 after the 'R' length). */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;
