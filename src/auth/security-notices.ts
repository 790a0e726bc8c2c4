/**
 * The mails that tell a user about their account's security (R-AUTH-5: users report abnormal
 * activity, so they must hear of it): a sign-in from a network the account has not used for 90
 * days, and every change to how it signs in (password, two-factor, app passwords), whoever made
 * it. Bilingual, Vietnamese first; each says what happened, when, by whom or from where, and what
 * to do if it was not them. The app delivers them into the INBOX (policy/notice.ts).
 */
import { vietnamTime } from '../lib/clock.js';
import type { UnusualSignIn } from './service.js';

export interface SecurityNotice {
  subject: string;
  body: string;
}

const THROUGH: Record<UnusualSignIn['protocol'], [string, string]> = {
  imap: ['IMAP (chương trình đọc thư)', 'IMAP (a mail program reading mail)'],
  pop3: ['POP3 (chương trình tải thư)', 'POP3 (a mail program downloading mail)'],
  smtp: ['SMTP (chương trình gửi thư)', 'SMTP (a mail program sending mail)'],
  http: ['trang web tự phục vụ', 'the self-service web page'],
};

/** The portal address the notice points to: passwords.changeUrl (the password page) and its security page. */
function securityUrl(changeUrl: string): string {
  return `${changeUrl.replace(/\/+$/, '')}/security`;
}

export function unusualSignInNotice(address: string, info: UnusualSignIn, changeUrl: string): SecurityNotice {
  const [vi, en] = THROUGH[info.protocol];
  const when = vietnamTime(info.at);
  const how = info.method === 'app-password' ? ['bằng một mật khẩu ứng dụng', 'with an app password'] : ['bằng mật khẩu chính', 'with the main password'];
  return {
    subject: 'Đăng nhập từ một mạng mới / Sign-in from a new network',
    body: [
      `Tài khoản ${address} vừa đăng nhập qua ${vi} ${how[0]} lúc ${when}, từ địa chỉ IP ${info.ip}: một mạng tài khoản chưa dùng trong 90 ngày qua.`,
      '',
      'Nếu đó là bạn (máy tính, mạng hay điện thoại mới), không cần làm gì.',
      `Nếu không phải bạn: đổi mật khẩu ngay tại ${changeUrl}, xem các lần đăng nhập và xóa mật khẩu ứng dụng lạ tại ${securityUrl(changeUrl)}, rồi báo quản trị viên của đơn vị.`,
      '',
      '---',
      '',
      `Your account ${address} just signed in through ${en} ${how[1]} at ${when}, from IP address ${info.ip}: a network the account has not used in the last 90 days.`,
      '',
      'If it was you (a new computer, network or phone), there is nothing to do.',
      `If it was not: change your password now at ${changeUrl}, check your sign-ins and remove unknown app passwords at ${securityUrl(changeUrl)}, and tell your unit's administrator.`,
    ].join('\n'),
  };
}

/** A change to how an account signs in; `by` is the administrator who made it, null for the user. */
export type SecurityChange =
  | { kind: 'password-changed'; by: null }
  | { kind: 'password-reset'; by: string; appPasswordsRevoked: number }
  /** "Forgot password" (R-AUTH-4): reset by its user with a code sent to the phone ending phoneTail. */
  | { kind: 'password-reset-by-sms'; by: null; phoneTail: string }
  | { kind: 'two-factor-on' | 'two-factor-off'; by: string | null }
  /** SMS codes now go to another phone (only its last digits are told). */
  | { kind: 'sms-phone-changed'; phoneTail: string; by: string | null }
  | { kind: 'app-password-added' | 'app-password-removed'; label: string; by: string | null };

export interface SecurityChangeInfo {
  at: Date;
  /** Where the user made it from (the portal); null for an administrator's change. */
  ip: string | null;
  change: SecurityChange;
}

function whatChanged(c: SecurityChange): [string, string] {
  switch (c.kind) {
    case 'password-changed':
      return ['Mật khẩu của tài khoản đã được đổi', "The account's password was changed"];
    case 'password-reset':
      return [
        `Mật khẩu của tài khoản đã được quản trị viên đặt lại${c.appPasswordsRevoked > 0 ? `; ${c.appPasswordsRevoked} mật khẩu ứng dụng đã bị thu hồi` : ''}`,
        `The account's password was reset by an administrator${c.appPasswordsRevoked > 0 ? `; ${c.appPasswordsRevoked} app password(s) were revoked` : ''}`,
      ];
    case 'password-reset-by-sms':
      return [
        `Mật khẩu của tài khoản đã được đặt lại bằng mã gửi qua SMS tới số ${c.phoneTail} (quên mật khẩu)`,
        `The account's password was reset with a code sent by SMS to the phone ending ${c.phoneTail} (forgotten password)`,
      ];
    case 'two-factor-on':
      return ['Xác thực hai lớp đã được bật', 'Two-factor sign-in was turned on'];
    case 'two-factor-off':
      return ['Xác thực hai lớp đã được tắt', 'Two-factor sign-in was turned off'];
    case 'sms-phone-changed':
      return [`Mã xác thực SMS từ nay được gửi tới số điện thoại khác (${c.phoneTail})`, `SMS sign-in codes now go to another phone (${c.phoneTail})`];
    case 'app-password-added':
      return [`Một mật khẩu ứng dụng mới đã được tạo: "${c.label}"`, `A new app password was created: "${c.label}"`];
    case 'app-password-removed':
      return [`Mật khẩu ứng dụng "${c.label}" đã bị xóa`, `The app password "${c.label}" was removed`];
  }
}

export function securityChangeNotice(address: string, info: SecurityChangeInfo, changeUrl: string): SecurityNotice {
  const [vi, en] = whatChanged(info.change);
  const when = vietnamTime(info.at);
  const by = info.change.by;
  const whoVi = by !== null ? `bởi quản trị viên ${by}` : info.ip !== null ? `từ địa chỉ IP ${info.ip}` : '';
  const whoEn = by !== null ? `by the administrator ${by}` : info.ip !== null ? `from IP address ${info.ip}` : '';
  if (info.change.kind === 'password-reset-by-sms') {
    // Whoever reset it knows the new password and the owner does not: changing it is no advice.
    return {
      subject: 'Thay đổi bảo mật tài khoản / A security change to your account',
      body: [
        `${vi} (tài khoản ${address}) lúc ${when}${whoVi ? `, ${whoVi}` : ''}.`,
        '',
        `Nếu không phải bạn: báo ngay quản trị viên của đơn vị để đặt lại mật khẩu và kiểm tra số điện thoại của tài khoản. Mật khẩu ứng dụng của các thiết bị vẫn được giữ: xem và xóa những cái lạ tại ${securityUrl(changeUrl)}.`,
        '',
        '---',
        '',
        `${en} (account ${address}) at ${when}${whoEn ? `, ${whoEn}` : ''}.`,
        '',
        `If it was not you: tell your unit's administrator at once, to reset the password and check the account's phone number. The devices' app passwords were kept: review them and remove unknown ones at ${securityUrl(changeUrl)}.`,
      ].join('\n'),
    };
  }
  return {
    subject: 'Thay đổi bảo mật tài khoản / A security change to your account',
    body: [
      `${vi} (tài khoản ${address}) lúc ${when}${whoVi ? `, ${whoVi}` : ''}.`,
      '',
      `Nếu bạn không biết về thay đổi này: đổi mật khẩu ngay tại ${changeUrl}, xem các lần đăng nhập tại ${securityUrl(changeUrl)} và báo quản trị viên của đơn vị.`,
      '',
      '---',
      '',
      `${en} (account ${address}) at ${when}${whoEn ? `, ${whoEn}` : ''}.`,
      '',
      `If you do not know about this change: change your password now at ${changeUrl}, check your sign-ins at ${securityUrl(changeUrl)} and tell your unit's administrator.`,
    ].join('\n'),
  };
}
