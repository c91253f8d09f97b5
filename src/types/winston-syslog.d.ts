// winston-syslog ships no types; only the transport constructor is used.
declare module 'winston-syslog' {
  import type TransportStream from 'winston-transport';
  export const Syslog: new (options: Record<string, unknown>) => TransportStream;
}
