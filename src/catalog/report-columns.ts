// The columns of the platform's CSV reports: what /primeapi/v2/reports writes and what `learnhook mirror import` reads.

export type ReportKind = 'users' | 'training';

export const reportColumns = {
  users: ['userId', 'name', 'email', 'userUniqueId', 'userType', 'state'],
  training: [
    'loId',
    'loType',
    'name',
    'state',
    'dateCreated',
    'dateUpdated',
    'loInstanceId',
    'instanceName',
    'instanceState',
    'seatLimit',
    'waitlistLimit',
  ],
} as const satisfies Record<ReportKind, readonly string[]>;
