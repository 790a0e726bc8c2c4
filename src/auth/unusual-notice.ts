/**
 * The mail a user gets after a sign-in from a network their account has not used for 90 days
 * (R-AUTH-5: users report abnormal activity; the system alerts on unusual sign-ins). Bilingual,
 * Vietnamese first; says when, through what and from where, and what to do if it was not them.
 */
import { vietnamTime } from '../lib/clock.js';
import type { UnusualSignIn } from './service.js';

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

export function unusualSignInNotice(address: string, info: UnusualSignIn, changeUrl: string): { subject: string; body: string } {
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
