<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="zh_CN">
  <context>
    <name>AppController</name>
    <message>
      <source>PIN码已修改。下次解锁请使用新的PIN码。</source>
      <translation>PIN changed. Use the new PIN the next time you unlock.</translation>
    </message>
  </context>
  <context>
    <name>ChangePinDialog</name>
    <message>
      <source>修改PIN码</source>
      <translation>Change PIN</translation>
    </message>
    <message>
      <source>请输入现在的PIN码。</source>
      <translation>Enter your current PIN.</translation>
    </message>
    <message>
      <source>请输入新的PIN码：至少{n}位数字。</source>
      <translation>Enter the new PIN: at least {n} digits.</translation>
    </message>
    <message>
      <source>请再输入一次新的PIN码。</source>
      <translation>Enter the new PIN once more.</translation>
    </message>
    <message>
      <source>正在修改PIN码，请稍候……</source>
      <translation>Changing the PIN, please wait…</translation>
    </message>
    <message>
      <source>这个PIN码太容易被猜到（相同或连续的数字），请换一个。</source>
      <translation>This PIN is too easy to guess (repeated or consecutive digits). Please choose another.</translation>
    </message>
    <message>
      <source>两次输入的新PIN码不一致，请重新输入。</source>
      <translation>The two new PINs do not match. Please enter the new PIN again.</translation>
    </message>
    <message>
      <source>修改没有成功，PIN码保持不变。</source>
      <translation>The PIN could not be changed; it is unchanged.</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
  </context>
  <context>
    <name>EventsPage</name>
    <message>
      <source>事件</source>
      <translation>Events</translation>
    </message>
    <message>
      <source>还没有上报的事件。

上报事件的功能开放后，您在巡查和走访中发现的问题可以在这里上报，并能看到处理进度：已上报、已受理、已派遣、处置中、已办结。</source>
      <translation>No events reported yet.

Once event reporting is available, problems you find on patrols and visits can be reported here, and you will see their progress: reported, accepted, dispatched, in progress, resolved.</translation>
    </message>
  </context>
  <context>
    <name>HouseholdsPage</name>
    <message>
      <source>住户</source>
      <translation>Households</translation>
    </message>
    <message>
      <source>本设备上加密保存了{count}户住户信息。</source>
      <translation>{count} households are stored encrypted on this device.</translation>
    </message>
    <message>
      <source>住户列表和走访记录将在后续版本中显示在这里。</source>
      <translation>The household list and visit records will appear here in a later version.</translation>
    </message>
    <message>
      <source>本设备上还没有住户信息。

本设备登记到指挥中心并同步后，您负责的网格里的住户会显示在这里，可以查看住户并记录走访。</source>
      <translation>No household information on this device yet.

Once this device is enrolled with the command centre and synchronised, the households in your grids will appear here, where you can look them up and record visits.</translation>
    </message>
  </context>
  <context>
    <name>MainView</name>
    <message>
      <source>未登记到中心</source>
      <translation>Not enrolled</translation>
    </message>
    <message>
      <source>本设备还没有登记到指挥中心，数据只保存在本设备上。</source>
      <translation>This device is not enrolled with the command centre yet; data is kept on this device only.</translation>
    </message>
    <message>
      <source>锁定</source>
      <translation>Lock</translation>
    </message>
  </context>
  <context>
    <name>MessageDialog</name>
    <message>
      <source>提示</source>
      <translation>Notice</translation>
    </message>
    <message>
      <source>知道了</source>
      <translation>OK</translation>
    </message>
    <message>
      <source>隐藏详细信息</source>
      <translation>Hide details</translation>
    </message>
    <message>
      <source>详细信息</source>
      <translation>Details</translation>
    </message>
  </context>
  <context>
    <name>PatrolPage</name>
    <message>
      <source>巡查</source>
      <translation>Patrol</translation>
    </message>
    <message>
      <source>还没有巡查记录。

巡查功能开放后，您可以在这里开始巡查：按巡查事项清单逐项检查，记录巡查轨迹和照片。保存的巡查记录会显示在这里。</source>
      <translation>No patrols recorded yet.

Once patrols are available, you can start one here: go through the checklist item by item and record the route and photos. Saved patrols will appear here.</translation>
    </message>
  </context>
  <context>
    <name>PinPad</name>
    <message>
      <source>清空</source>
      <translation>Clear</translation>
    </message>
    <message>
      <source>删除</source>
      <translation>Delete</translation>
    </message>
    <message>
      <source>确定</source>
      <translation>OK</translation>
    </message>
    <message>
      <source>已输入{count}位</source>
      <translation>{count} digits entered</translation>
    </message>
  </context>
  <context>
    <name>SettingsPage</name>
    <message>
      <source>设置</source>
      <translation>Settings</translation>
    </message>
    <message>
      <source>语言</source>
      <translation>Language</translation>
    </message>
    <message>
      <source>文字大小</source>
      <translation>Text size</translation>
    </message>
    <message>
      <source>自动锁定</source>
      <translation>Auto-lock</translation>
    </message>
    <message>
      <source>安全</source>
      <translation>Security</translation>
    </message>
    <message>
      <source>设备信息</source>
      <translation>Device information</translation>
    </message>
    <message>
      <source>中文</source>
      <translation>中文 Chinese</translation>
    </message>
    <message>
      <source>英语 English</source>
      <translation>English</translation>
    </message>
    <message>
      <source>多长时间不操作后自动锁定：</source>
      <translation>Lock automatically when not used for:</translation>
    </message>
    <message>
      <source>{n}分钟</source>
      <translation>{n} min</translation>
    </message>
    <message>
      <source>立即锁定</source>
      <translation>Lock now</translation>
    </message>
    <message>
      <source>修改PIN码</source>
      <translation>Change PIN</translation>
    </message>
    <message>
      <source>系统密钥环（{name}）</source>
      <translation>System keyring ({name})</translation>
    </message>
    <message>
      <source>数据目录里的一个文件（本机没有可用的系统密钥环）</source>
      <translation>A file in the data folder (no system keyring is available)</translation>
    </message>
    <message>
      <source>未知</source>
      <translation>Unknown</translation>
    </message>
    <message>
      <source>注意：本机没有可用的系统密钥环，设备密钥只能保存在数据目录里的一个文件中，保护较弱：如果有人复制了整个数据目录，数据就只靠PIN码保护。</source>
      <translation>Note: no system keyring is available on this machine, so the device secret is stored in a file in the data folder. This is less protected: if someone copies the whole data folder, only the PIN protects the data.</translation>
    </message>
    <message>
      <source>程序版本</source>
      <translation>App version</translation>
    </message>
    <message>
      <source>数据位置</source>
      <translation>Data location</translation>
    </message>
    <message>
      <source>设备密钥保存在</source>
      <translation>Device secret stored in</translation>
    </message>
    <message>
      <source>设备编号</source>
      <translation>Device ID</translation>
    </message>
    <message>
      <source>数据库版本</source>
      <translation>Database version</translation>
    </message>
    <message>
      <source>PIN码连续输错次数</source>
      <translation>Wrong PINs in a row</translation>
    </message>
    <message>
      <source>{failed}次（还可以尝试{left}次）</source>
      <translation>{failed} ({left} tries left)</translation>
    </message>
  </context>
  <context>
    <name>SetupScreen</name>
    <message>
      <source>本设备上的数据已被销毁（PIN码连续输错次数过多，或被远程擦除），无法恢复。请重新设置本设备，之后还需要重新向指挥中心登记。</source>
      <translation>The data on this device has been destroyed (too many wrong PINs, or a remote wipe) and cannot be recovered. Set the device up again; it will then need to be enrolled with the command centre again.</translation>
    </message>
    <message>
      <source>设置本设备</source>
      <translation>Set up this device</translation>
    </message>
    <message>
      <source>请设置PIN码：至少{n}位数字。以后每次打开都要输入它。</source>
      <translation>Choose a PIN of at least {n} digits. You will enter it every time you open the app.</translation>
    </message>
    <message>
      <source>请再输入一次同样的PIN码。</source>
      <translation>Enter the same PIN once more.</translation>
    </message>
    <message>
      <source>正在设置本设备，请稍候……</source>
      <translation>Setting up this device, please wait…</translation>
    </message>
    <message>
      <source>这个PIN码太容易被猜到（相同或连续的数字），请换一个。</source>
      <translation>This PIN is too easy to guess (repeated or consecutive digits). Please choose another.</translation>
    </message>
    <message>
      <source>两次输入的PIN码不一致，请重新设置。</source>
      <translation>The two PINs do not match. Please choose the PIN again.</translation>
    </message>
    <message>
      <source>设置没有成功，请再试一次。</source>
      <translation>Set-up did not succeed. Please try again.</translation>
    </message>
  </context>
  <context>
    <name>ShellWindow</name>
    <message>
      <source>网格服务</source>
      <translation>Grid Service</translation>
    </message>
  </context>
  <context>
    <name>SyncPage</name>
    <message>
      <source>同步</source>
      <translation>Sync</translation>
    </message>
    <message>
      <source>本设备上没有等待上传的记录。</source>
      <translation>No records are waiting to be uploaded from this device.</translation>
    </message>
    <message>
      <source>本设备上有{count}条记录等待上传。</source>
      <translation>{count} records on this device are waiting to be uploaded.</translation>
    </message>
    <message>
      <source>本设备尚未登记到指挥中心，所以还不能同步。

信息管理员为本设备登记后，这里会显示上次同步的时间，有网络时记录会自动上传，新的任务和住户信息会自动下载。</source>
      <translation>This device is not enrolled with the command centre yet, so it cannot sync.

Once the IT administrator enrols it, this page shows the last sync time; records upload automatically when there is a network, and new tasks and household information download automatically.</translation>
    </message>
  </context>
  <context>
    <name>TasksPage</name>
    <message>
      <source>任务</source>
      <translation>Tasks</translation>
    </message>
    <message>
      <source>尚未与指挥中心连接。

设备登记后，指挥中心派给您的任务和通知会显示在这里。</source>
      <translation>Not connected to the command centre yet.

Once the device is enrolled, tasks and notices the centre sends you will appear here.</translation>
    </message>
  </context>
  <context>
    <name>TodayPage</name>
    <message>
      <source>今天</source>
      <translation>Today</translation>
    </message>
    <message>
      <source>今天还没有工作安排。

本设备登记到指挥中心后，今天要做的巡查、走访和指挥中心派来的任务会显示在这里。</source>
      <translation>Nothing planned for today yet.

Once this device is enrolled with the command centre, today's patrols, visits and tasks from the centre will appear here.</translation>
    </message>
  </context>
  <context>
    <name>UnlockScreen</name>
    <message>
      <source>请输入PIN码解锁</source>
      <translation>Enter your PIN to unlock</translation>
    </message>
    <message>
      <source>数据已加密保存。输入您的PIN码后按“确定”。</source>
      <translation>Your data is stored encrypted. Enter your PIN, then press OK.</translation>
    </message>
    <message>
      <source>正在解锁，请稍候……</source>
      <translation>Unlocking, please wait…</translation>
    </message>
    <message>
      <source>解锁没有成功，请再试一次。</source>
      <translation>Unlocking did not succeed. Please try again.</translation>
    </message>
    <message>
      <source>现在可以再次输入PIN码。</source>
      <translation>You can enter your PIN again now.</translation>
    </message>
    <message>
      <source>为保护数据，请等待{seconds}秒后再输入。</source>
      <translation>To protect your data, wait {seconds} seconds before trying again.</translation>
    </message>
  </context>
  <context>
    <name>cli</name>
    <message>
      <source>标准输入中缺少PIN码（每行一个）。</source>
      <translation>PIN missing on standard input (one per line).</translation>
    </message>
    <message>
      <source>PIN码只能从标准输入读取：请加上 --pin-stdin。</source>
      <translation>The PIN can only be read from standard input: add --pin-stdin.</translation>
    </message>
    <message>
      <source>设备已设置：{device_id}</source>
      <translation>Device set up: {device_id}</translation>
    </message>
    <message>
      <source>注意：本机没有可用的系统密钥库，设备密钥保存在数据目录的文件中，防护较弱。</source>
      <translation>Warning: no system keyring is available on this machine; the device secret is kept in a file in the data directory, which is less protected.</translation>
    </message>
    <message>
      <source>程序版本：{v}</source>
      <translation>App version: {v}</translation>
    </message>
    <message>
      <source>数据目录：{d}</source>
      <translation>Data directory: {d}</translation>
    </message>
    <message>
      <source>设备编号：{d}</source>
      <translation>Device ID: {d}</translation>
    </message>
    <message>
      <source>密钥库：{k}</source>
      <translation>Keyring: {k}</translation>
    </message>
    <message>
      <source>解锁前连续输错PIN码次数：{n}</source>
      <translation>Wrong PINs in a row before this unlock: {n}</translation>
    </message>
    <message>
      <source>数据库版本：{v}</source>
      <translation>Database schema version: {v}</translation>
    </message>
    <message>
      <source>记录 {kind}：{n}</source>
      <translation>Records {kind}: {n}</translation>
    </message>
    <message>
      <source>待上传：{n}</source>
      <translation>Pending uploads: {n}</translation>
    </message>
    <message>
      <source>审计日志完整：共{n}条。</source>
      <translation>Audit log intact: {n} entries.</translation>
    </message>
    <message>
      <source>审计日志已被篡改：第{seq}条起无法验证（{reason}）。</source>
      <translation>The audit log has been tampered with: entry {seq} onwards cannot be verified ({reason}).</translation>
    </message>
    <message>
      <source>已导出{n}条审计记录到 {f}</source>
      <translation>Exported {n} audit entries to {f}</translation>
    </message>
    <message>
      <source>PIN码已更改。</source>
      <translation>PIN changed.</translation>
    </message>
  </context>
  <context>
    <name>errors</name>
    <message>
      <source>发生了未知错误。</source>
      <translation>An unknown error occurred.</translation>
    </message>
    <message>
      <source>本设备尚未设置，请先设置PIN码。</source>
      <translation>This device has not been set up yet. Please set a PIN first.</translation>
    </message>
    <message>
      <source>本设备已经设置过，不能重复设置。</source>
      <translation>This device is already set up and cannot be set up again.</translation>
    </message>
    <message>
      <source>本设备的数据已被销毁（连续输错PIN码或远程擦除），需要重新设置。</source>
      <translation>The data on this device has been destroyed (too many wrong PINs or a remote wipe). The device must be set up again.</translation>
    </message>
    <message>
      <source>PIN码错误。还可以尝试{attempts_left}次，之后本设备的数据将被销毁。</source>
      <translation>Wrong PIN. {attempts_left} attempts left before the data on this device is destroyed.</translation>
    </message>
    <message>
      <source>PIN码错误次数过多，请{wait_seconds}秒后再试。</source>
      <translation>Too many wrong PINs. Please try again in {wait_seconds} seconds.</translation>
    </message>
    <message>
      <source>PIN码必须是至少6位数字。</source>
      <translation>The PIN must be at least 6 digits.</translation>
    </message>
    <message>
      <source>两次输入的PIN码不一致，请重新输入。</source>
      <translation>The two PINs do not match. Please enter them again.</translation>
    </message>
    <message>
      <source>无法读取设备密钥：{reason}</source>
      <translation>Cannot read the device key: {reason}</translation>
    </message>
    <message>
      <source>设备密钥文件已损坏，无法解锁：{reason}</source>
      <translation>The device key file is damaged, so the device cannot be unlocked: {reason}</translation>
    </message>
    <message>
      <source>文件“{blob_id}”已损坏或被篡改，无法打开。其他数据不受影响。</source>
      <translation>The file "{blob_id}" is damaged or has been tampered with and cannot be opened. Other data is not affected.</translation>
    </message>
    <message>
      <source>找不到文件“{blob_id}”。</source>
      <translation>The file "{blob_id}" cannot be found.</translation>
    </message>
    <message>
      <source>数据库无法打开：密钥不正确或文件已损坏。</source>
      <translation>The database cannot be opened: the key is wrong or the file is damaged.</translation>
    </message>
    <message>
      <source>数据库版本（{found}）比本程序支持的版本（{supported}）新，请升级程序。</source>
      <translation>The database version ({found}) is newer than this program supports ({supported}). Please update the program.</translation>
    </message>
    <message>
      <source>数据库升级到第{version}版失败，数据已保持原样。备份在：{backup}</source>
      <translation>Upgrading the database to version {version} failed; the data was left as it was. Backup: {backup}</translation>
    </message>
  </context>
  <context>
    <name>excepthook</name>
    <message>
      <source>程序出现了问题，已记录。您的数据没有丢失。</source>
      <translation>Something went wrong. It has been logged. Your data is not lost.</translation>
    </message>
  </context>
</TS>