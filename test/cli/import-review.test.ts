/** `buudien import requests` with the review's sample forms (the request cell read whole, a login name alone, a title line with commas). */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, tempSetup } from './run.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const HEADER = 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị,Email';

describe('buudien import requests (review fixes)', () => {
  it('"Xóa bỏ tạm khóa" is refused with its line and deletes nothing; "Tạm khóa,longnv" suspends longnv; a comma title line above a semicolon form is read', async () => {
    const { dir, config } = tempSetup();
    dirs.push(dir);
    const file = (name: string, text: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    expect((await cli(['org', 'add', '--name', 'Sở Thông tin và Truyền thông', '--config', config])).code).toBe(0);
    const created = await cli(['import', 'requests', file('title.csv', 'Nghệ An, ngày 1 tháng 3 năm 2026\nSTT;Họ và tên;Chức vụ;Phòng/ban/đơn vị;Số điện thoại;Nội dung đề nghị\n1;Hoàng Văn Đức;Chuyên viên;stttt;0912;Cấp mới\n2;Nguyễn Văn Long;;stttt;;Cấp mới\n'), '--config', config]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/created duchv@nghean.gov.vn/);

    const suspended = await cli(['import', 'requests', file('sus1.csv', `${HEADER}\n1,Hoàng Văn Đức,,stttt,,Tạm khóa,duchv\n`), '--config', config]);
    expect(suspended.code).toBe(0);
    expect(suspended.stdout).toMatch(/suspended duchv@nghean.gov.vn/);

    const lift = await cli(['import', 'requests', file('sus3.csv', `${HEADER}\n1,Nguyễn Văn Long,,stttt,,Tạm khóa,longnv\n2,Hoàng Văn Đức,,stttt,,Xóa bỏ tạm khóa,duchv@nghean.gov.vn\n`), '--config', config]);
    expect(lift.code).toBe(1);
    expect(lift.stderr).toMatch(/^Không thay đổi gì: 1 dòng lỗi.*dòng \/ line 3: Nội dung đề nghị "Xóa bỏ tạm khóa" không phải một trong: "cấp mới", "tạm khóa", "xóa"/);
    const show = JSON.parse((await cli(['account', 'list', '--org', 'stttt', '--json', '--config', config])).stdout) as Array<{ address: string; state: string }>;
    expect(show.map((a) => [a.address, a.state]).sort()).toEqual([
      ['duchv@nghean.gov.vn', 'suspended'],
      ['longnv@nghean.gov.vn', 'active'],
    ]);
  });
});
