<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="zh_CN">
  <context>
    <name>AnswerDialog</name>
    <message>
      <source>回复任务</source>
      <translation>Answer the task</translation>
    </message>
    <message>
      <source>回复：{title}</source>
      <translation>Answer: {title}</translation>
    </message>
    <message>
      <source>写几句话说明情况</source>
      <translation>Say in a few words what you found</translation>
    </message>
    <message>
      <source>照片（可选）</source>
      <translation>Photos (optional)</translation>
    </message>
    <message>
      <source>发现问题需要处理？可以上报一个事件，随回复一起发送。</source>
      <translation>Found a problem that needs handling? Report an event; it is sent with the answer.</translation>
    </message>
    <message>
      <source>上报事件</source>
      <translation>Report event</translation>
    </message>
    <message>
      <source>已上报事件，会随回复发送</source>
      <translation>Event reported; sent with the answer</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>发送回复</source>
      <translation>Send answer</translation>
    </message>
    <message>
      <source>照片还在处理，请稍等一下再发送。</source>
      <translation>A photo is still being processed. Please wait a moment, then send.</translation>
    </message>
  </context>
  <context>
    <name>AppController</name>
    <message>
      <source>IT要求PIN码至少{n}位数字，请现在修改PIN码。</source>
      <translation>IT requires a PIN of at least {n} digits. Please change your PIN now.</translation>
    </message>
    <message>
      <source>这个程序不是从安装目录启动的，不能在这里安装更新{v}。请联系信息管理员。</source>
      <translation>This program was not started from its installation, so update {v} cannot be installed here. Please contact IT.</translation>
    </message>
    <message>
      <source>PIN码已修改。下次解锁请使用新的PIN码。</source>
      <translation>PIN changed. Use the new PIN the next time you unlock.</translation>
    </message>
  </context>
  <context>
    <name>CameraDialog</name>
    <message>
      <source>拍照</source>
      <translation>Take photo</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>相机出错了，请再拍一次，或者用“选择图片”。</source>
      <translation>The camera had a problem. Take the photo again, or use "Choose picture".</translation>
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
    <name>ChoiceDialog</name>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
  </context>
  <context>
    <name>ConfirmDialog</name>
    <message>
      <source>请确认</source>
      <translation>Please confirm</translation>
    </message>
  </context>
  <context>
    <name>ConflictCard</name>
    <message>
      <source>（本机还没有这户）</source>
      <translation>(household not yet on this device)</translation>
    </message>
    <message>
      <source>住户 {name}（{address}）：{field}</source>
      <translation>Household {name} ({address}): {field}</translation>
    </message>
    <message>
      <source>住户 {name}：{field}</source>
      <translation>Household {name}: {field}</translation>
    </message>
    <message>
      <source>（家庭成员 {member}）</source>
      <translation> (household member {member})</translation>
    </message>
    <message>
      <source>已移除的成员</source>
      <translation>a removed member</translation>
    </message>
    <message>
      <source>先到中心的值：{value}（{who}）</source>
      <translation>Reached the centre first: {value} ({who})</translation>
    </message>
    <message>
      <source>后到的值：{value}（{who}）</source>
      <translation>Arrived later: {value} ({who})</translation>
    </message>
    <message>
      <source>已决定用“{value}”，下次同步时告诉中心。</source>
      <translation>Decided: "{value}". The centre is told at the next sync.</translation>
    </message>
    <message>
      <source>保留“{value}”</source>
      <translation>Keep "{value}"</translation>
    </message>
    <message>
      <source>改用“{value}”</source>
      <translation>Use "{value}"</translation>
    </message>
    <message>
      <source>等待网格长决定</source>
      <translation>Waiting for the grid leader to decide</translation>
    </message>
    <message>
      <source>本设备</source>
      <translation>this device</translation>
    </message>
    <message>
      <source>你的另一台设备</source>
      <translation>your other device</translation>
    </message>
    <message>
      <source>中心</source>
      <translation>the centre</translation>
    </message>
    <message>
      <source>人员编号{id}</source>
      <translation>person no. {id}</translation>
    </message>
  </context>
  <context>
    <name>DueRow</name>
    <message>
      <source>逾期{n}天</source>
      <translation>{n} days overdue</translation>
    </message>
    <message>
      <source>{date}前走访</source>
      <translation>Visit by {date}</translation>
    </message>
  </context>
  <context>
    <name>EventCard</name>
    <message>
      <source>培训数据</source>
      <translation>training data</translation>
    </message>
    <message>
      <source>查看</source>
      <translation>Open</translation>
    </message>
  </context>
  <context>
    <name>EventDialog</name>
    <message>
      <source>上报事件</source>
      <translation>Report as event</translation>
    </message>
    <message>
      <source>请核对后上报。有网络时会自动发送到指挥中心。</source>
      <translation>Check it, then report. It is sent to the command centre automatically when there is a network.</translation>
    </message>
    <message>
      <source>巡查事项</source>
      <translation>Patrol item</translation>
    </message>
    <message>
      <source>事件类别</source>
      <translation>Event category</translation>
    </message>
    <message>
      <source>网格</source>
      <translation>Grid</translation>
    </message>
    <message>
      <source>照片</source>
      <translation>Photos</translation>
    </message>
    <message>
      <source>位置</source>
      <translation>Position</translation>
    </message>
    <message>
      <source>问题说明</source>
      <translation>What is the problem</translation>
    </message>
    <message>
      <source>{n}张</source>
      <translation>{n}</translation>
    </message>
    <message>
      <source>确认上报</source>
      <translation>Report</translation>
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
      <source>需要补充：指挥中心退回了，请补充材料</source>
      <translation>More needed: the command centre returned it, please add information</translation>
    </message>
    <message>
      <source>待核查：已办结，请到现场核查</source>
      <translation>To check: handled, please check on the spot</translation>
    </message>
    <message>
      <source>待上传：有网络时会自动发送</source>
      <translation>Waiting to upload: sent automatically when there is a network</translation>
    </message>
    <message>
      <source>您的工作已完成</source>
      <translation>Your part is done</translation>
    </message>
    <message>
      <source>指挥中心没有接收这个事件，请联系网格长</source>
      <translation>The command centre did not accept this event; please contact your grid leader</translation>
    </message>
    <message>
      <source>上报人：{name}</source>
      <translation>Reported by: {name}</translation>
    </message>
    <message>
      <source>上报人：本网格的网格员</source>
      <translation>Reported by: a worker of this grid</translation>
    </message>
    <message>
      <source>我上报的</source>
      <translation>Reported by me</translation>
    </message>
    <message>
      <source>本网格的事件</source>
      <translation>This grid's events</translation>
    </message>
    <message>
      <source>本网格其他人上报的事件：{n}个；还没办结：{open}个</source>
      <translation>Events others in this grid reported: {n}; not yet resolved: {open}</translation>
    </message>
    <message>
      <source>本网格还没有其他人上报的事件。

同步以后，网格员上报的事件会显示在这里。</source>
      <translation>Nobody else in this grid has reported an event yet.

After a sync, the events grid workers report appear here.</translation>
    </message>
    <message>
      <source>我上报的事件：{n}个；要我处理：{todo}个；待上传：{waiting}个</source>
      <translation>My events: {n}; need me: {todo}; waiting to upload: {waiting}</translation>
    </message>
    <message>
      <source>还没有上报的事件。

在巡查或走访中发现问题，点右上角的“上报事件”。上报后在这里能看到处理进度：已上报、已受理、已派遣、处置中、已办结。</source>
      <translation>No events reported yet.

When you find a problem on a patrol or a visit, tap "Report event" at the top right. Here you then see how it goes: reported, accepted, dispatched, being handled, handled.</translation>
    </message>
    <message>
      <source>显示更多（还有{n}个）</source>
      <translation>Show more ({n} left)</translation>
    </message>
    <message>
      <source>上报时间：{time}</source>
      <translation>Reported: {time}</translation>
    </message>
    <message>
      <source>地址：{address}</source>
      <translation>Address: {address}</translation>
    </message>
    <message>
      <source>最近变化：{time}</source>
      <translation>Last change: {time}</translation>
    </message>
    <message>
      <source>现在：退回（需要补充材料）</source>
      <translation>Now: returned (more information needed)</translation>
    </message>
    <message>
      <source>现在：已上报上级处理</source>
      <translation>Now: passed up to a higher level</translation>
    </message>
    <message>
      <source>现在：待上传（还没有发送到指挥中心）</source>
      <translation>Now: waiting to upload (not sent to the command centre yet)</translation>
    </message>
    <message>
      <source>返回事件列表</source>
      <translation>Back to my events</translation>
    </message>
    <message>
      <source>补充材料</source>
      <translation>Add information</translation>
    </message>
    <message>
      <source>现场核查</source>
      <translation>Check on the spot</translation>
    </message>
    <message>
      <source>查看住户</source>
      <translation>Open household</translation>
    </message>
    <message>
      <source>处理进度</source>
      <translation>Progress</translation>
    </message>
    <message>
      <source>处理记录</source>
      <translation>Record</translation>
    </message>
  </context>
  <context>
    <name>FlagsDialog</name>
    <message>
      <source>疑点</source>
      <translation>Flags</translation>
    </message>
    <message>
      <source>{name}：{n}条疑点，请抽查这些记录</source>
      <translation>{name}: {n} flags. Please check these records</translation>
    </message>
    <message>
      <source>{reason}（记录 {record}）</source>
      <translation>{reason} (record {record})</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
  </context>
  <context>
    <name>GpsSettings</name>
    <message>
      <source>定位（巡查轨迹）</source>
      <translation>Positioning (patrol track)</translation>
    </message>
    <message>
      <source>巡查轨迹用哪种定位：</source>
      <translation>Where the patrol track takes its positions from:</translation>
    </message>
    <message>
      <source>本机定位</source>
      <translation>This device's positioning</translation>
    </message>
    <message>
      <source>串口GPS接收器</source>
      <translation>GPS receiver on a serial port</translation>
    </message>
    <message>
      <source>NMEA文件回放（培训用）</source>
      <translation>NMEA file replay (training)</translation>
    </message>
    <message>
      <source>选择文件</source>
      <translation>Choose file</translation>
    </message>
    <message>
      <source>使用这个定位</source>
      <translation>Use this</translation>
    </message>
    <message>
      <source>现在使用：{source}</source>
      <translation>Now using: {source}</translation>
    </message>
    <message>
      <source>（本次启动时用 --gps 指定）</source>
      <translation> (set with --gps for this run)</translation>
    </message>
    <message>
      <source>串口名称，例如 COM3 或 /dev/ttyUSB0</source>
      <translation>Serial port, e.g. COM3 or /dev/ttyUSB0</translation>
    </message>
    <message>
      <source>NMEA日志文件的位置</source>
      <translation>Where the NMEA log file is</translation>
    </message>
    <message>
      <source>选择NMEA日志文件</source>
      <translation>Choose an NMEA log file</translation>
    </message>
    <message>
      <source>请先填写串口名称或文件位置。</source>
      <translation>Fill in the serial port or the file first.</translation>
    </message>
    <message>
      <source>无法使用这个定位来源。</source>
      <translation>This positioning source cannot be used.</translation>
    </message>
  </context>
  <context>
    <name>HouseholdDetail</name>
    <message>
      <source>未登记</source>
      <translation>not recorded</translation>
    </message>
    <message>
      <source>无</source>
      <translation>none</translation>
    </message>
    <message>
      <source>隐藏</source>
      <translation>Hide</translation>
    </message>
    <message>
      <source>显示</source>
      <translation>Show</translation>
    </message>
    <message>
      <source>还没有登记家庭成员。</source>
      <translation>No household members recorded yet.</translation>
    </message>
    <message>
      <source>户籍人口</source>
      <translation>registered resident</translation>
    </message>
    <message>
      <source>流动人口</source>
      <translation>floating population</translation>
    </message>
    <message>
      <source>租住</source>
      <translation>tenant</translation>
    </message>
    <message>
      <source>身份证 {value}</source>
      <translation>ID {value}</translation>
    </message>
    <message>
      <source>电话 {value}</source>
      <translation>Phone {value}</translation>
    </message>
    <message>
      <source>修改</source>
      <translation>Edit</translation>
    </message>
    <message>
      <source>删除</source>
      <translation>Remove</translation>
    </message>
    <message>
      <source>还没有走访记录。</source>
      <translation>No visits recorded yet.</translation>
    </message>
    <message>
      <source>这户没有上报过事件。</source>
      <translation>No events reported for this household.</translation>
    </message>
    <message>
      <source>家庭成员（{n}人）</source>
      <translation>Household members ({n})</translation>
    </message>
    <message>
      <source>走访记录</source>
      <translation>Visits</translation>
    </message>
    <message>
      <source>全部走访（查看、更正）</source>
      <translation>All visits (view, correct)</translation>
    </message>
    <message>
      <source>这户的事件</source>
      <translation>Events of this household</translation>
    </message>
    <message>
      <source>返回</source>
      <translation>Back</translation>
    </message>
    <message>
      <source>记录走访</source>
      <translation>Record visit</translation>
    </message>
    <message>
      <source>上报事件</source>
      <translation>Report event</translation>
    </message>
    <message>
      <source>修改信息</source>
      <translation>Edit details</translation>
    </message>
    <message>
      <source>添加成员</source>
      <translation>Add member</translation>
    </message>
    <message>
      <source>地址</source>
      <translation>Address</translation>
    </message>
    <message>
      <source>类别</source>
      <translation>Category</translation>
    </message>
    <message>
      <source>电话</source>
      <translation>Phone</translation>
    </message>
    <message>
      <source>身份证号</source>
      <translation>ID number</translation>
    </message>
    <message>
      <source>标签</source>
      <translation>Tags</translation>
    </message>
    <message>
      <source>确定要从这户删除“{name}”吗？下次同步时上报。</source>
      <translation>Remove "{name}" from this household? The change is sent with the next sync.</translation>
    </message>
    <message>
      <source>不删除</source>
      <translation>Keep</translation>
    </message>
  </context>
  <context>
    <name>HouseholdDialog</name>
    <message>
      <source>新增住户</source>
      <translation>New household</translation>
    </message>
    <message>
      <source>修改住户信息</source>
      <translation>Edit household</translation>
    </message>
    <message>
      <source>新增一户在走访中发现的住户。带*的必须填写。</source>
      <translation>Add a household found in the field. Fields marked * are required.</translation>
    </message>
    <message>
      <source>修改后点“保存”，下次同步时上报。</source>
      <translation>Make your changes and tap "Save"; they are sent with the next sync.</translation>
    </message>
    <message>
      <source>户主姓名*</source>
      <translation>Head of household*</translation>
    </message>
    <message>
      <source>地址*</source>
      <translation>Address*</translation>
    </message>
    <message>
      <source>类别</source>
      <translation>Category</translation>
    </message>
    <message>
      <source>电话</source>
      <translation>Phone</translation>
    </message>
    <message>
      <source>身份证号</source>
      <translation>ID number</translation>
    </message>
    <message>
      <source>标签</source>
      <translation>Tags</translation>
    </message>
    <message>
      <source>网格</source>
      <translation>Grid</translation>
    </message>
    <message>
      <source>住户位置</source>
      <translation>Home position</translation>
    </message>
    <message>
      <source>我在这户门口：记下此处位置
北纬{lat}°，东经{lon}°</source>
      <translation>At this door: keep this position
{lat}° N, {lon}° E</translation>
    </message>
    <message>
      <source>多个标签用顿号分开，例如：低保户、独居老人</source>
      <translation>Separate tags with commas, e.g. low income, elderly living alone</translation>
    </message>
    <message>
      <source>不修改请留空（现为 {value}）</source>
      <translation>Leave empty to keep (now {value})</translation>
    </message>
    <message>
      <source>请填写户主姓名。</source>
      <translation>Please enter the name of the head of household.</translation>
    </message>
    <message>
      <source>请填写地址。</source>
      <translation>Please enter the address.</translation>
    </message>
    <message>
      <source>姓名或地址太长了，请检查。</source>
      <translation>The name or the address is too long. Please check.</translation>
    </message>
    <message>
      <source>电话号码只能是数字，请检查。</source>
      <translation>A phone number can only contain digits. Please check.</translation>
    </message>
    <message>
      <source>身份证号应为18位（最后一位可以是X），请检查。</source>
      <translation>An ID number has 18 characters (the last may be X). Please check.</translation>
    </message>
  </context>
  <context>
    <name>HouseholdHistoryDialog</name>
    <message>
      <source>这户的走访</source>
      <translation>Household's visits</translation>
    </message>
    <message>
      <source>{name}（{address}）：{n}次走访，从早到晚</source>
      <translation>{name} ({address}): {n} visits, oldest first</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
  </context>
  <context>
    <name>HouseholdsPage</name>
    <message>
      <source>住户</source>
      <translation>Households</translation>
    </message>
    <message>
      <source>输入姓名、拼音首字母、地址或电话尾号</source>
      <translation>Name, pinyin initials, address or last digits of a phone</translation>
    </message>
    <message>
      <source>新增住户</source>
      <translation>New household</translation>
    </message>
    <message>
      <source>全部</source>
      <translation>All</translation>
    </message>
    <message>
      <source>一般</source>
      <translation>Ordinary</translation>
    </message>
    <message>
      <source>困难</source>
      <translation>Hardship</translation>
    </message>
    <message>
      <source>重点</source>
      <translation>Key</translation>
    </message>
    <message>
      <source>待走访</source>
      <translation>Visit due</translation>
    </message>
    <message>
      <source>标签：{tag}</source>
      <translation>Tag: {tag}</translation>
    </message>
    <message>
      <source>按标签</source>
      <translation>By tag</translation>
    </message>
    <message>
      <source>现在无法查找住户，请稍后再试。</source>
      <translation>Households cannot be searched right now. Please try again later.</translation>
    </message>
    <message>
      <source>正在整理住户信息，同步了很多住户后第一次查找要等一会儿……</source>
      <translation>Preparing the household list: after syncing many households the first search takes a while…</translation>
    </message>
    <message>
      <source>正在查找……</source>
      <translation>Searching…</translation>
    </message>
    <message numerus="yes">
      <source>找到%n户以上</source>
      <translation>
        <numerusform>Over %n household found</numerusform>
        <numerusform>Over %n households found</numerusform>
      </translation>
    </message>
    <message numerus="yes">
      <source>找到%n户</source>
      <translation>
        <numerusform>%n household found</numerusform>
        <numerusform>%n households found</numerusform>
      </translation>
    </message>
    <message>
      <source>没有找到符合条件的住户。

可以换个写法，例如只输入姓名的拼音首字母（张三丰：zsf），或者去掉上面的筛选。</source>
      <translation>No household matches.

Try writing it another way, for example only the pinyin initials of the name (张三丰: zsf), or remove the filters above.</translation>
    </message>
    <message>
      <source>不按标签</source>
      <translation>Any tag</translation>
    </message>
    <message>
      <source>本设备上还没有住户信息。

本设备登记到指挥中心并同步后，您负责的网格里的住户会显示在这里，可以查看住户并记录走访。</source>
      <translation>No household information on this device yet.

Once this device is enrolled with the command centre and synchronised, the households in your grids will appear here, where you can look them up and record visits.</translation>
    </message>
  </context>
  <context>
    <name>ItemListDialog</name>
    <message>
      <source>全部项目</source>
      <translation>All items</translation>
    </message>
    <message>
      <source>{group}：点一项去检查它</source>
      <translation>{group}: tap an item to check it</translation>
    </message>
    <message>
      <source>正常</source>
      <translation>normal</translation>
    </message>
    <message>
      <source>有问题</source>
      <translation>problem</translation>
    </message>
    <message>
      <source>不涉及</source>
      <translation>not applicable</translation>
    </message>
    <message>
      <source>返回</source>
      <translation>Back</translation>
    </message>
  </context>
  <context>
    <name>MainView</name>
    <message>
      <source>锁定</source>
      <translation>Lock</translation>
    </message>
    <message>
      <source>上报事件</source>
      <translation>Report</translation>
    </message>
  </context>
  <context>
    <name>MapView</name>
    <message>
      <source>未安装离线地图</source>
      <translation>No offline map installed</translation>
    </message>
    <message>
      <source>放大</source>
      <translation>Zoom in</translation>
    </message>
    <message>
      <source>缩小</source>
      <translation>Zoom out</translation>
    </message>
    <message>
      <source>显示全部</source>
      <translation>Show all</translation>
    </message>
  </context>
  <context>
    <name>MemberDialog</name>
    <message>
      <source>添加家庭成员</source>
      <translation>Add household member</translation>
    </message>
    <message>
      <source>修改家庭成员</source>
      <translation>Edit household member</translation>
    </message>
    <message>
      <source>带*的必须填写。</source>
      <translation>Fields marked * are required.</translation>
    </message>
    <message>
      <source>姓名*</source>
      <translation>Name*</translation>
    </message>
    <message>
      <source>与户主关系*</source>
      <translation>Relation to head*</translation>
    </message>
    <message>
      <source>例如：配偶、子女、父亲</source>
      <translation>e.g. spouse, child, father</translation>
    </message>
    <message>
      <source>居住情况</source>
      <translation>Residence</translation>
    </message>
    <message>
      <source>电话</source>
      <translation>Phone</translation>
    </message>
    <message>
      <source>身份证号</source>
      <translation>ID number</translation>
    </message>
    <message>
      <source>户籍人口</source>
      <translation>Registered</translation>
    </message>
    <message>
      <source>流动人口</source>
      <translation>Floating</translation>
    </message>
    <message>
      <source>租住</source>
      <translation>Tenant</translation>
    </message>
    <message>
      <source>不修改请留空（现为 {value}）</source>
      <translation>Leave empty to keep (now {value})</translation>
    </message>
    <message>
      <source>请填写姓名。</source>
      <translation>Please enter the name.</translation>
    </message>
    <message>
      <source>请填写与户主的关系。</source>
      <translation>Please enter the relation to the head of household.</translation>
    </message>
    <message>
      <source>姓名或关系太长了，请检查。</source>
      <translation>The name or the relation is too long. Please check.</translation>
    </message>
    <message>
      <source>电话号码只能是数字，请检查。</source>
      <translation>A phone number can only contain digits. Please check.</translation>
    </message>
    <message>
      <source>身份证号应为18位（最后一位可以是X），请检查。</source>
      <translation>An ID number has 18 characters (the last may be X). Please check.</translation>
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
      <source>{grid}（今天已巡查）</source>
      <translation>{grid} (patrolled today)</translation>
    </message>
    <message>
      <source>点一下您要巡查的网格，就开始巡查并记录轨迹。</source>
      <translation>Tap the grid you patrol: the patrol starts and the track is recorded.</translation>
    </message>
    <message>
      <source>指挥中心还没有给您分配网格，请联系网格长或信息管理员。</source>
      <translation>The command centre has not assigned you any grid yet. Please ask your grid leader or the IT administrator.</translation>
    </message>
    <message>
      <source>本设备还没有登记到指挥中心，不知道您负责哪些网格。下面是本设备上用过的网格；也可以输入网格编号，再点“开始巡查”。</source>
      <translation>This device is not enrolled with the command centre yet, so it does not know your grids. Below are the grids used on this device; or type a grid number and tap "Start patrol".</translation>
    </message>
    <message>
      <source>本设备还没有登记到指挥中心，不知道您负责哪些网格。请输入要巡查的网格编号，再点“开始巡查”。</source>
      <translation>This device is not enrolled with the command centre yet, so it does not know your grids. Type the number of the grid to patrol and tap "Start patrol".</translation>
    </message>
    <message>
      <source>定位来源：{source}</source>
      <translation>Positioning: {source}</translation>
    </message>
    <message>
      <source>{when}  {grid}：检查{done}项，发现问题{problems}项，{distance}</source>
      <translation>{when}  {grid}: {done} items checked, {problems} problems, {distance}</translation>
    </message>
    <message>
      <source>请先输入网格编号。</source>
      <translation>Type the grid number first.</translation>
    </message>
    <message>
      <source>‹上一项</source>
      <translation>‹ Back</translation>
    </message>
    <message>
      <source>全部项目</source>
      <translation>All items</translation>
    </message>
    <message>
      <source>下一组›</source>
      <translation>Next group ›</translation>
    </message>
    <message>
      <source>下一项›</source>
      <translation>Next ›</translation>
    </message>
    <message>
      <source>其余正常</source>
      <translation>Rest OK</translation>
    </message>
    <message>
      <source>{n}项都检查完了。点“结束巡查”保存并上报。</source>
      <translation>All {n} items are checked. Tap "Finish" to save and report the patrol.</translation>
    </message>
    <message>
      <source>取消这次巡查吗？

已检查的{done}项和记录的轨迹都会删除，不会上报，也不算今天的巡查。已经上报的事件和拍下的照片会保留。</source>
      <translation>Cancel this patrol?

The items checked so far ({done}) and the recorded track will be deleted: nothing is reported, and it does not count as today's patrol. Events already reported and photos taken are kept.</translation>
    </message>
    <message>
      <source>取消巡查</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>继续巡查</source>
      <translation>Keep patrolling</translation>
    </message>
    <message>
      <source>本设备没有可用的摄像头。请点“选择图片”，从相册或存储卡里选一张照片。</source>
      <translation>This device has no camera that can be used. Tap "Choose picture" to take a photo from the gallery or a memory card.</translation>
    </message>
    <message>
      <source>{grid}：已检查{done}/{total}项</source>
      <translation>{grid}: {done} of {total} checked</translation>
    </message>
    <message>
      <source>发现问题{problems}项；用时{duration}</source>
      <translation>Problems found: {problems}. Time: {duration}</translation>
    </message>
    <message>
      <source>发现问题{problems}项；已走{distance}，用时{duration}</source>
      <translation>Problems: {problems}. Walked {distance} in {duration}</translation>
    </message>
    <message>
      <source>已走{distance}，用时{duration}</source>
      <translation>Walked {distance} in {duration}</translation>
    </message>
    <message>
      <source>还有{n}项没有检查。没有检查的项目不会上报。

现在就结束巡查吗？开始错了的话，可以取消这次巡查。</source>
      <translation>Items not checked yet: {n}. Items not checked are not reported.

Finish the patrol now? If it was started by mistake, you can cancel it.</translation>
    </message>
    <message>
      <source>结束巡查</source>
      <translation>Finish</translation>
    </message>
    <message>
      <source>继续检查</source>
      <translation>Keep checking</translation>
    </message>
    <message>
      <source>正在保存巡查记录…</source>
      <translation>Saving the patrol…</translation>
    </message>
    <message>
      <source>{grid}的巡查已结束</source>
      <translation>Patrol of {grid} finished</translation>
    </message>
    <message>
      <source>{done}/{total}项</source>
      <translation>{done} of {total}</translation>
    </message>
    <message>
      <source>{n}项</source>
      <translation>{n}</translation>
    </message>
    <message>
      <source>开始巡查</source>
      <translation>Start patrol</translation>
    </message>
    <message>
      <source>网格编号</source>
      <translation>Grid number</translation>
    </message>
    <message>
      <source>最近的巡查</source>
      <translation>Recent patrols</translation>
    </message>
    <message>
      <source>看轨迹</source>
      <translation>Track</translation>
    </message>
    <message>
      <source>检查项目</source>
      <translation>Items checked</translation>
    </message>
    <message>
      <source>发现问题</source>
      <translation>Problem found</translation>
    </message>
    <message>
      <source>巡查距离</source>
      <translation>Distance</translation>
    </message>
    <message>
      <source>用时</source>
      <translation>Time taken</translation>
    </message>
    <message>
      <source>巡查记录已加密保存在本设备上，有网络时会自动上传到指挥中心。</source>
      <translation>The patrol is saved encrypted on this device and uploaded to the command centre automatically when there is a network.</translation>
    </message>
    <message>
      <source>这次巡查没有记录到定位点。</source>
      <translation>No positions were recorded on this patrol.</translation>
    </message>
    <message>
      <source>完成</source>
      <translation>Done</translation>
    </message>
    <message>
      <source>正常</source>
      <translation>Normal</translation>
    </message>
    <message>
      <source>不涉及</source>
      <translation>Not applicable</translation>
    </message>
    <message>
      <source>发现问题时必须拍照。</source>
      <translation>A photo is required when a problem is found.</translation>
    </message>
    <message>
      <source>备注（可以不填）</source>
      <translation>Note (optional)</translation>
    </message>
    <message>
      <source>拍照</source>
      <translation>Take photo</translation>
    </message>
    <message>
      <source>选择图片</source>
      <translation>Choose picture</translation>
    </message>
    <message>
      <source>上报事件</source>
      <translation>Report as event</translation>
    </message>
    <message>
      <source>正在处理照片…</source>
      <translation>Processing the photo…</translation>
    </message>
    <message>
      <source>已上报为事件，有网络时自动发送。</source>
      <translation>Reported as an event; sent automatically when there is a network.</translation>
    </message>
  </context>
  <context>
    <name>PhotoSpaceSettings</name>
    <message>
      <source>照片占用的空间</source>
      <translation>Space used by photos</translation>
    </message>
    <message>
      <source>释放已同步照片</source>
      <translation>Free synced photos</translation>
    </message>
    <message>
      <source>已上传到中心的照片可以从本机删掉原图，腾出空间：缩略图和记录都留着，原图在中心可以查看。还没上传的照片不会删。</source>
      <translation>Photos already uploaded to the centre can have their full image deleted from this device to free space: the thumbnail and the record stay, and the full photo can be seen at the centre. Photos not uploaded yet are never deleted.</translation>
    </message>
    <message>
      <source>本机照片{n}张，占用{size}。已上传、可以释放：{free}张（{free_size}）；还没上传：{waiting}张；已释放过原图：{freed}张。</source>
      <translation>Photos on this device: {n}, using {size}. Uploaded and can be freed: {free} ({free_size}); not uploaded yet: {waiting}; full image already freed: {freed}.</translation>
    </message>
    <message>
      <source>已释放{n}张照片的原图，腾出{size}。</source>
      <translation>Freed the full image of {n} photo(s): {size} of space made.</translation>
    </message>
    <message>
      <source>从本机删除{n}张已上传到中心的照片原图，可以腾出约{size}。缩略图和记录都留着，原图在中心可以查看，不能再从本机导出。还没上传的{waiting}张不会删。</source>
      <translation>Delete from this device the full image of {n} photo(s) already uploaded to the centre, freeing about {size}? The thumbnails and records stay; the full photos can be seen at the centre but no longer exported from this device. The {waiting} photo(s) not uploaded yet are not deleted.</translation>
    </message>
    <message>
      <source>释放</source>
      <translation>Free</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>没有释放任何照片：本机数据库写不进去。照片都还在，请稍后再试或联系IT。</source>
      <translation>No photo was freed: the device's database could not be written. All photos are still here; try again later or call IT.</translation>
    </message>
  </context>
  <context>
    <name>PhotoStrip</name>
    <message>
      <source>照片{n}</source>
      <translation>Photo {n}</translation>
    </message>
  </context>
  <context>
    <name>PhotoView</name>
    <message>
      <source>照片</source>
      <translation>Photo</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
    <message>
      <source>删除这张照片</source>
      <translation>Delete this photo</translation>
    </message>
    <message>
      <source>这里只是缩略图：原图已上传到中心，为腾出空间已从本机释放，原图请在中心查看。</source>
      <translation>This is only the thumbnail: the full photo was uploaded to the centre and freed from this device to make space. See the full photo at the centre.</translation>
    </message>
    <message>
      <source>这张照片不在本机上（照片留在中心，本机只收到记录）。</source>
      <translation>This photo is not on this device (photos stay at the centre; the device only receives the record).</translation>
    </message>
    <message>
      <source>删除这张照片吗？删除后要重新拍或重新选。</source>
      <translation>Delete this photo? You will have to take or choose it again.</translation>
    </message>
    <message>
      <source>删除</source>
      <translation>Delete</translation>
    </message>
    <message>
      <source>保留</source>
      <translation>Keep</translation>
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
    <name>RecoverPinDialog</name>
    <message>
      <source>忘记PIN码</source>
      <translation>Forgot PIN</translation>
    </message>
    <message>
      <source>请联系信息管理员，报上您的姓名，对方会告诉您本机的恢复码。请把恢复码输入下面的框里，然后按“下一步”。本机数据不会丢失。</source>
      <translation>Call IT and give your name; they will tell you this device's recovery code. Type the code in the box below, then press "Next". No data on this device is lost.</translation>
    </message>
    <message>
      <source>请输入新的PIN码：至少{n}位数字。</source>
      <translation>Enter a new PIN: at least {n} digits.</translation>
    </message>
    <message>
      <source>请再输入一次新的PIN码。</source>
      <translation>Enter the new PIN again.</translation>
    </message>
    <message>
      <source>正在重设PIN码，请稍候……</source>
      <translation>Resetting the PIN, please wait…</translation>
    </message>
    <message>
      <source>恢复码应是26个字母和数字（可以不输入短横线），请核对后再输入。</source>
      <translation>A recovery code is 26 letters and digits (the dashes may be left out). Check it and enter it again.</translation>
    </message>
    <message>
      <source>这个PIN码太容易被猜到（相同或连续的数字），请换一个。</source>
      <translation>This PIN is too easy to guess (repeated or consecutive digits). Please choose another.</translation>
    </message>
    <message>
      <source>两次输入的新PIN码不一致，请重新输入。</source>
      <translation>The two new PINs do not match. Please enter them again.</translation>
    </message>
    <message>
      <source>重设没有成功，请再试一次。</source>
      <translation>The reset did not work. Please try again.</translation>
    </message>
    <message>
      <source>恢复码，例如 ABCD-EFGH-…</source>
      <translation>Recovery code, e.g. ABCD-EFGH-…</translation>
    </message>
    <message>
      <source>下一步</source>
      <translation>Next</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
  </context>
  <context>
    <name>ReportEventDialog</name>
    <message>
      <source>上报事件</source>
      <translation>Report an event</translation>
    </message>
    <message>
      <source>选类别，说清楚问题，再点“上报”。没有网络也可以上报，有网络时会自动发送。</source>
      <translation>Choose the kind, say what the problem is, then tap "Report". It works without a network too: it is sent when there is one.</translation>
    </message>
    <message>
      <source>1. 事件类别</source>
      <translation>1. Kind of event</translation>
    </message>
    <message>
      <source>2. 发生了什么</source>
      <translation>2. What happened</translation>
    </message>
    <message>
      <source>例如：幸福路3号楼道堆满杂物，堵住了消防通道</source>
      <translation>e.g. the stairwell of Xingfu Road 3 is full of junk blocking the fire exit</translation>
    </message>
    <message>
      <source>3. 紧急程度</source>
      <translation>3. Urgency</translation>
    </message>
    <message>
      <source>网格</source>
      <translation>Grid</translation>
    </message>
    <message>
      <source>4. 位置和地址</source>
      <translation>4. Position and address</translation>
    </message>
    <message>
      <source>地址或地点，例如：幸福路3号门口</source>
      <translation>Address or place, e.g. outside Xingfu Road 3</translation>
    </message>
    <message>
      <source>5. 照片（可以不拍）</source>
      <translation>5. Photos (optional)</translation>
    </message>
    <message>
      <source>上报</source>
      <translation>Report</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
  </context>
  <context>
    <name>RestNormalDialog</name>
    <message>
      <source>其余正常</source>
      <translation>The rest are normal</translation>
    </message>
    <message>
      <source>“{group}”还有{n}项没有检查。标为“正常”表示您看过、没有发现问题：</source>
      <translation>Items of "{group}" not checked yet: {n}. Marking them "Normal" means you looked and found no problem:</translation>
    </message>
    <message>
      <source>、</source>
      <translation>; </translation>
    </message>
    <message>
      <source>“{group}”的项目都检查过了。</source>
      <translation>Every item of "{group}" is checked.</translation>
    </message>
    <message>
      <source>其他组还有{n}项没有检查。</source>
      <translation>Items of the other groups not checked yet: {n}.</translation>
    </message>
    <message>
      <source>本组{n}项正常</source>
      <translation>This group's {n}: normal</translation>
    </message>
    <message>
      <source>全部{n}项正常</source>
      <translation>All {n}: normal</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
  </context>
  <context>
    <name>ReviewDialog</name>
    <message>
      <source>审核人</source>
      <translation>The reviewer</translation>
    </message>
    <message>
      <source>{time} {who}审核：{state}</source>
      <translation>{time} {who} reviewed: {state}</translation>
    </message>
    <message>
      <source>。意见：{comment}</source>
      <translation>. Comment: {comment}</translation>
    </message>
    <message>
      <source>审核</source>
      <translation>Review</translation>
    </message>
    <message>
      <source>审核这条走访记录</source>
      <translation>Review this visit record</translation>
    </message>
    <message>
      <source>审核这次巡查</source>
      <translation>Review this patrol</translation>
    </message>
    <message>
      <source>以前的审核意见（不会被修改）</source>
      <translation>Earlier reviews (never changed)</translation>
    </message>
    <message>
      <source>审核结果</source>
      <translation>Result</translation>
    </message>
    <message>
      <source>意见（选“有问题”时必填）</source>
      <translation>Comment (required for "Has issues")</translation>
    </message>
    <message>
      <source>例如：没有写见到的人，请补充</source>
      <translation>For example: who was met is missing, please add it</translation>
    </message>
    <message>
      <source>保存后不能修改。要改变结论，可以再审核一次。</source>
      <translation>A saved review cannot be changed. To change the result, review again.</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>保存审核</source>
      <translation>Save review</translation>
    </message>
    <message>
      <source>请选择审核结果：合格、有问题或不合格。</source>
      <translation>Please choose a result: approved, has issues or rejected.</translation>
    </message>
  </context>
  <context>
    <name>ReviewNotesDialog</name>
    <message>
      <source>审核意见</source>
      <translation>Review comments</translation>
    </message>
    <message>
      <source>网格长或指导员认为这些走访记录需要更正。原记录会保留，更正会作为新记录发送。</source>
      <translation>Your grid leader or supervisor asks you to correct these visit records. The original stays; the correction is sent as a new record.</translation>
    </message>
    <message>
      <source>没有需要更正的走访记录。</source>
      <translation>No visit record needs a correction.</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
    <message>
      <source>{name}（{address}）{when} {how}</source>
      <translation>{name} ({address}) {when} {how}</translation>
    </message>
    <message>
      <source>原来写的走访情况：{text}</source>
      <translation>What the visit record said: {text}</translation>
    </message>
    <message>
      <source>更正这条走访记录</source>
      <translation>Correct this visit record</translation>
    </message>
  </context>
  <context>
    <name>ReviewPage</name>
    <message>
      <source>督导</source>
      <translation>Review</translation>
    </message>
    <message>
      <source>◀ 上月</source>
      <translation>◀ Prev</translation>
    </message>
    <message>
      <source>上个月</source>
      <translation>Previous month</translation>
    </message>
    <message>
      <source>下月 ▶</source>
      <translation>Next ▶</translation>
    </message>
    <message>
      <source>下个月</source>
      <translation>Next month</translation>
    </message>
    <message>
      <source>导出PDF报表</source>
      <translation>Save the report as PDF</translation>
    </message>
    <message>
      <source>导出Excel报表</source>
      <translation>Save the report as Excel</translation>
    </message>
    <message>
      <source>人员列表</source>
      <translation>People</translation>
    </message>
    <message>
      <source>图表</source>
      <translation>Charts</translation>
    </message>
    <message>
      <source>近六个月</source>
      <translation>6 months</translation>
    </message>
    <message>
      <source>姓名</source>
      <translation>Name</translation>
    </message>
    <message>
      <source>得分</source>
      <translation>Score</translation>
    </message>
    <message>
      <source>巡查天数</source>
      <translation>Patrols</translation>
    </message>
    <message>
      <source>走访</source>
      <translation>Visits</translation>
    </message>
    <message>
      <source>逾期户</source>
      <translation>Overdue</translation>
    </message>
    <message>
      <source>事件 报/结</source>
      <translation>Events rep./closed</translation>
    </message>
    <message>
      <source>疑点</source>
      <translation>Flags</translation>
    </message>
    <message>
      <source>最近同步</source>
      <translation>Last sync</translation>
    </message>
    <message>
      <source>只有网格长和网格指导员可以查看督导考核。</source>
      <translation>Only grid leaders and supervisors can see the review.</translation>
    </message>
    <message>
      <source>正在统计…</source>
      <translation>Counting…</translation>
    </message>
    <message>
      <source>现在无法统计，请稍后再打开本页。</source>
      <translation>The figures cannot be counted now. Please open this page again later.</translation>
    </message>
    <message>
      <source>正在统计近六个月…</source>
      <translation>Counting the last six months…</translation>
    </message>
    <message>
      <source>现在无法统计近六个月，请稍后再试。</source>
      <translation>The last six months cannot be counted now. Please try again later.</translation>
    </message>
    <message>
      <source>{n}人，疑点{flags}条，从最需要关注的排起</source>
      <translation>{n} people, {flags} flags; those needing attention first</translation>
    </message>
    <message>
      <source>这个月没有可统计的人员。</source>
      <translation>Nobody to count this month.</translation>
    </message>
    <message>
      <source>{visits}次
已访{seen}/{total}户</source>
      <translation>{visits} visits
{seen}/{total} households</translation>
    </message>
    <message>
      <source>查看</source>
      <translation>Open</translation>
    </message>
    <message>
      <source>{month} {grid}：{measure}</source>
      <translation>{month} {grid}: {measure}</translation>
    </message>
    <message>
      <source>只画出最需要关注的{n}人，全部人员见人员列表。</source>
      <translation>Only the {n} people needing most attention are drawn; everyone is in the People list.</translation>
    </message>
    <message>
      <source>{grid}合计（得分为平均分）。在人员列表中点一行，看这个人的趋势。</source>
      <translation>{grid} in total (score: the average). Tap a row in the People list for that person's trend.</translation>
    </message>
    <message>
      <source>{grid}：近六个月{measure}</source>
      <translation>{grid}: {measure}, last six months</translation>
    </message>
    <message>
      <source>{name}的趋势。</source>
      <translation>{name}'s trend.</translation>
    </message>
    <message>
      <source>{name}：近六个月{measure}</source>
      <translation>{name}: {measure}, last six months</translation>
    </message>
    <message>
      <source>看哪个网格？</source>
      <translation>Which grid?</translation>
    </message>
    <message>
      <source>走访次数</source>
      <translation>Visits</translation>
    </message>
    <message>
      <source>逾期户数</source>
      <translation>Overdue</translation>
    </message>
    <message>
      <source>上报事件</source>
      <translation>Reported</translation>
    </message>
    <message>
      <source>办结事件</source>
      <translation>Closed</translation>
    </message>
    <message>
      <source>困难家庭</source>
      <translation>Hardship</translation>
    </message>
    <message>
      <source>重点人员</source>
      <translation>Key persons</translation>
    </message>
    <message>
      <source>一般家庭</source>
      <translation>Ordinary</translation>
    </message>
    <message>
      <source>{year}年{month}月</source>
      <translation>{year}-{month:02d}</translation>
    </message>
    <message>
      <source>全部网格</source>
      <translation>All grids</translation>
    </message>
    <message>
      <source>网格 {grid}</source>
      <translation>Grid {grid}</translation>
    </message>
    <message>
      <source>从未同步</source>
      <translation>Never synced</translation>
    </message>
    <message>
      <source>{n}条</source>
      <translation>{n}</translation>
    </message>
  </context>
  <context>
    <name>ReviewReport</name>
    <message>
      <source>{grid} · {month} 月度考核</source>
      <translation>{grid} · {month} monthly assessment</translation>
    </message>
    <message>
      <source>统计时段：{start} 至 {until}；共{n}人；从最需要关注的排起</source>
      <translation>Period: {start} to {until}; {n} people; those needing attention first</translation>
    </message>
    <message>
      <source>（续）</source>
      <translation> (continued)</translation>
    </message>
    <message>
      <source>疑点（共{n}条）</source>
      <translation>Flags ({n})</translation>
    </message>
    <message>
      <source>另有{n}条疑点见Excel报表</source>
      <translation>{n} more flags in the Excel report</translation>
    </message>
    <message>
      <source>{month}：没有可统计的人员</source>
      <translation>{month}: nobody to count</translation>
    </message>
    <message>
      <source>{year}年{month}月</source>
      <translation>{year}-{month:02d}</translation>
    </message>
    <message>
      <source>得分</source>
      <translation>Score</translation>
    </message>
    <message>
      <source>导出文件夹</source>
      <translation>Export folder</translation>
    </message>
    <message>
      <source>文档</source>
      <translation>Documents</translation>
    </message>
    <message>
      <source>下载</source>
      <translation>Downloads</translation>
    </message>
    <message>
      <source>U盘 {name}</source>
      <translation>USB drive {name}</translation>
    </message>
    <message>
      <source>姓名</source>
      <translation>Name</translation>
    </message>
    <message>
      <source>巡查天数</source>
      <translation>Patrol days</translation>
    </message>
    <message>
      <source>应巡查</source>
      <translation>Required</translation>
    </message>
    <message>
      <source>走访</source>
      <translation>Visits</translation>
    </message>
    <message>
      <source>一般</source>
      <translation>Ordinary</translation>
    </message>
    <message>
      <source>困难</source>
      <translation>Hardship</translation>
    </message>
    <message>
      <source>重点</source>
      <translation>Key</translation>
    </message>
    <message>
      <source>逾期户</source>
      <translation>Overdue</translation>
    </message>
    <message>
      <source>上报</source>
      <translation>Reported</translation>
    </message>
    <message>
      <source>办结</source>
      <translation>Closed</translation>
    </message>
    <message>
      <source>疑点</source>
      <translation>Flags</translation>
    </message>
  </context>
  <context>
    <name>SaveDialog</name>
    <message>
      <source>保存报表</source>
      <translation>Save the report</translation>
    </message>
    <message>
      <source>保存到哪里？点一个位置就保存。</source>
      <translation>Where to save it? Tap a place and it is saved.</translation>
    </message>
    <message>
      <source>文件名：{name}</source>
      <translation>File name: {name}</translation>
    </message>
    <message>
      <source>没有可以保存的位置。请插入U盘，或请信息管理员设置导出文件夹。</source>
      <translation>There is nowhere to save. Insert a USB drive, or ask IT to set an export folder.</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>正在保存…</source>
      <translation>Saving…</translation>
    </message>
    <message>
      <source>已保存：{path}</source>
      <translation>Saved: {path}</translation>
    </message>
    <message>
      <source>没有保存成功，请换一个位置再试。（{error}）</source>
      <translation>It was not saved. Please try another place. ({error})</translation>
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
      <source>没有安装（地图只显示浅色网格和比例尺）。由信息管理员用 fieldclient map install 安装。</source>
      <translation>None installed (maps show only a light grid and the scale bar). IT installs one with fieldclient map install.</translation>
    </message>
    <message>
      <source>{name}（缩放级别{low}-{high}，{size:.0f} MB，{date}安装）</source>
      <translation>{name} (zoom levels {low}-{high}, {size:.0f} MB, installed {date})</translation>
    </message>
    <message>
      <source>TPM 2.0 安全芯片（{name}）</source>
      <translation>TPM 2.0 security chip ({name})</translation>
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
      <source>注意：本机没有TPM安全芯片：有人复制了数据（和系统密钥环）后，可以离线反复猜PIN码。请使用更长的PIN码。</source>
      <translation>Note: this device has no TPM security chip: someone who copies the data (and the system keyring) can guess the PIN offline, again and again. Use a longer PIN.</translation>
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
      <source>离线地图</source>
      <translation>Offline map</translation>
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
    <message>
      <source>设置以来输错PIN码总次数</source>
      <translation>Wrong PINs since set-up</translation>
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
    <name>SupplementDialog</name>
    <message>
      <source>补充材料</source>
      <translation>Add information</translation>
    </message>
    <message>
      <source>指挥中心退回了这个事件，需要您补充情况。</source>
      <translation>The command centre returned this event and needs more information from you.</translation>
    </message>
    <message>
      <source>退回原因：{note}</source>
      <translation>Why it was returned: {note}</translation>
    </message>
    <message>
      <source>指挥中心没有写退回原因。</source>
      <translation>The command centre gave no reason.</translation>
    </message>
    <message>
      <source>补充的情况</source>
      <translation>More information</translation>
    </message>
    <message>
      <source>照片（可以不拍）</source>
      <translation>Photos (optional)</translation>
    </message>
    <message>
      <source>提交补充</source>
      <translation>Send</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
  </context>
  <context>
    <name>SyncIndicator</name>
    <message>
      <source>未登记到中心</source>
      <translation>Not enrolled</translation>
    </message>
    <message>
      <source>本设备还没有登记到指挥中心，数据只保存在本设备上。</source>
      <translation>This device is not enrolled with the command centre yet; data stays on this device only.</translation>
    </message>
    <message>
      <source>正在同步…</source>
      <translation>Syncing…</translation>
    </message>
    <message>
      <source>已同步</source>
      <translation>Synced</translation>
    </message>
    <message>
      <source>无网络</source>
      <translation>Offline</translation>
    </message>
    <message>
      <source>同步失败</source>
      <translation>Sync failed</translation>
    </message>
    <message>
      <source>{n}条待上传</source>
      <translation>{n} to send</translation>
    </message>
    <message>
      <source>还没有同步过</source>
      <translation>Never synced</translation>
    </message>
    <message>
      <source>点这里查看同步情况</source>
      <translation>Tap to see the sync status</translation>
    </message>
  </context>
  <context>
    <name>SyncPage</name>
    <message>
      <source>选择注册二维码图片</source>
      <translation>Choose the enrollment QR image</translation>
    </message>
    <message>
      <source>图片</source>
      <translation>Images</translation>
    </message>
    <message>
      <source>同步</source>
      <translation>Sync</translation>
    </message>
    <message>
      <source>请填写服务器地址（信息管理员会告诉你）。</source>
      <translation>Please enter the server address (your IT administrator gives it to you).</translation>
    </message>
    <message>
      <source>注册码应该是12个字母或数字，像 ABCD-EFGH-JKMN 这样。请再核对一遍。</source>
      <translation>The enrollment code has 12 letters or digits, like ABCD-EFGH-JKMN. Please check it again.</translation>
    </message>
    <message>
      <source>正在登记，请稍候……</source>
      <translation>Enrolling, please wait…</translation>
    </message>
    <message>
      <source>正在读取二维码……</source>
      <translation>Reading the QR code…</translation>
    </message>
    <message>
      <source>已读出注册码。二维码里没有服务器地址，请填写服务器地址后点“登记本设备”。</source>
      <translation>The code was read. The QR code has no server address: enter it, then tap "Enroll this device".</translation>
    </message>
    <message>
      <source>这张图片里找不到二维码。请选择信息管理员给你的注册二维码图片。</source>
      <translation>No QR code found in this picture. Please choose the enrollment QR image from your IT administrator.</translation>
    </message>
    <message>
      <source>这个二维码不是本系统的注册码。请选择信息管理员给你的注册二维码图片。</source>
      <translation>This QR code is not an enrollment code of this system. Please choose the one from your IT administrator.</translation>
    </message>
    <message>
      <source>这个文件打不开，可能不是图片。</source>
      <translation>This file cannot be opened; it may not be a picture.</translation>
    </message>
    <message>
      <source>网格长</source>
      <translation>grid leader</translation>
    </message>
    <message>
      <source>网格指导员</source>
      <translation>grid instructor</translation>
    </message>
    <message>
      <source>网格员</source>
      <translation>grid worker</translation>
    </message>
    <message>
      <source>、</source>
      <translation>, </translation>
    </message>
    <message>
      <source>无</source>
      <translation>none</translation>
    </message>
    <message>
      <source>使用人：{name}（{role}）　负责网格：{grids}</source>
      <translation>User: {name} ({role})   Grids: {grids}</translation>
    </message>
    <message>
      <source>指挥中心：{server}</source>
      <translation>Command centre: {server}</translation>
    </message>
    <message>
      <source>正在同步…</source>
      <translation>Syncing…</translation>
    </message>
    <message>
      <source>立即同步</source>
      <translation>Sync now</translation>
    </message>
    <message>
      <source>正在和指挥中心同步，请稍候。可以继续做别的事。</source>
      <translation>Syncing with the command centre. You can go on with other work.</translation>
    </message>
    <message>
      <source>还没有成功同步过。</source>
      <translation>Not synced successfully yet.</translation>
    </message>
    <message>
      <source>上次成功同步：{when}</source>
      <translation>Last successful sync: {when}</translation>
    </message>
    <message>
      <source>约{n}分钟后自动再试。</source>
      <translation>Tries again by itself in about {n} min.</translation>
    </message>
    <message>
      <source>本机时间比指挥中心快约{n}分钟，请校准本机时间。</source>
      <translation>This device's clock is about {n} min ahead of the command centre. Please set the clock right. </translation>
    </message>
    <message>
      <source>本机时间比指挥中心慢约{n}分钟，请校准本机时间。</source>
      <translation>This device's clock is about {n} min behind the command centre. Please set the clock right. </translation>
    </message>
    <message>
      <source>记录的先后以中心为准，不会出错。</source>
      <translation>Records are still ordered correctly by the centre.</translation>
    </message>
    <message>
      <source>现在没有网络。记录都保存在本机，有网络时会自动上传。</source>
      <translation>No network now. Everything is kept on this device and sent by itself when the network is back.</translation>
    </message>
    <message>
      <source>这次已完成：{done}。没完成的（{undone}）下次同步接着做。</source>
      <translation>Done this time: {done}. Not finished ({undone}): the next sync carries on.</translation>
    </message>
    <message>
      <source>刚才的同步：上传{sent}条，下载{got}条，照片{photos}张。</source>
      <translation>Last sync: {sent} sent, {got} received, {photos} photos.</translation>
    </message>
    <message>
      <source>等待上传</source>
      <translation>Waiting to be sent</translation>
    </message>
    <message>
      <source>{kind}：{n}（其中{m}条要等指挥中心升级）</source>
      <translation>{kind}: {n} (waiting for the command centre's upgrade: {m})</translation>
    </message>
    <message>
      <source>{kind}：{n}</source>
      <translation>{kind}: {n}</translation>
    </message>
    <message>
      <source>没有等待上传的记录。</source>
      <translation>Nothing is waiting to be sent.</translation>
    </message>
    <message>
      <source>指挥中心的软件暂时还收不了其中{n}条记录。记录保存在本机，不会丢失，中心升级以后会自动上传，不用重新填写。</source>
      <translation>The command centre's software cannot take {n} of these records yet. They are kept on this device and nothing is lost; they are sent by themselves once the centre is upgraded. You do not need to enter them again.</translation>
    </message>
    <message>
      <source>被中心拒收的记录（{n}条，已放在一边，不影响其他记录）</source>
      <translation>Records the centre refused ({n}; set aside, the others are not held up)</translation>
    </message>
    <message>
      <source>{kind}：{reason}</source>
      <translation>{kind}: {reason}</translation>
    </message>
    <message>
      <source>（只列出最近20条）</source>
      <translation>(only the latest 20 are listed)</translation>
    </message>
    <message>
      <source>来自指挥中心的{n}条数据暂时无法处理</source>
      <translation>{n} item(s) from the command centre cannot be used yet</translation>
    </message>
    <message>
      <source>这些数据保存在本机，不会丢失，也不影响其他数据。更新本软件以后会自动再处理；如果一直这样，请告诉信息管理员。</source>
      <translation>They are kept on this device, nothing is lost, and everything else still works. After this app is updated they are tried again by themselves. If this does not go away, tell your IT administrator.</translation>
    </message>
    <message>
      <source>{kind}，{when}收到：{why}。</source>
      <translation>{kind}, received {when}: {why}.</translation>
    </message>
    <message>
      <source>（只列出最近{n}条）</source>
      <translation>(only the latest {n} are listed)</translation>
    </message>
    <message>
      <source>同一项被两人改成了不同的值（{n}处）</source>
      <translation>Two people changed the same item differently ({n})</translation>
    </message>
    <message>
      <source>两个值都保存着，不会丢。请选择要保留哪一个。</source>
      <translation>Both values are kept, nothing is lost. Choose which one to use.</translation>
    </message>
    <message>
      <source>两个值都保存着，不会丢。由网格长决定用哪一个。</source>
      <translation>Both values are kept, nothing is lost. The grid leader decides which one to use.</translation>
    </message>
    <message>
      <source>正在下载中心的新数据：{n}条</source>
      <translation>Receiving new data from the centre: {n}</translation>
    </message>
    <message>
      <source>上传记录：{done} / {total}</source>
      <translation>Records sent: {done} / {total}</translation>
    </message>
    <message>
      <source>正在连接指挥中心……</source>
      <translation>Connecting to the command centre…</translation>
    </message>
    <message>
      <source>上传照片：{done} / {total}</source>
      <translation>Photos sent: {done} / {total}</translation>
    </message>
    <message>
      <source>登记到指挥中心</source>
      <translation>Enroll with the command centre</translation>
    </message>
    <message>
      <source>登记以后，本设备的记录会自动上传到指挥中心，新的任务和住户信息会自动下载。请填写信息管理员给你的服务器地址和注册码，或者选择注册码的二维码图片。</source>
      <translation>Once enrolled, this device sends its records to the command centre and receives new tasks and household information by itself. Enter the server address and enrollment code from your IT administrator, or choose the code's QR image.</translation>
    </message>
    <message>
      <source>服务器地址</source>
      <translation>Server address</translation>
    </message>
    <message>
      <source>例如 https://wgh.example.gov.cn</source>
      <translation>e.g. https://wgh.example.gov.cn</translation>
    </message>
    <message>
      <source>注册码（12位，只能用一次）</source>
      <translation>Enrollment code (12 characters, single use)</translation>
    </message>
    <message>
      <source>正在登记…</source>
      <translation>Enrolling…</translation>
    </message>
    <message>
      <source>登记本设备</source>
      <translation>Enroll this device</translation>
    </message>
    <message>
      <source>读取二维码图片</source>
      <translation>Read a QR image</translation>
    </message>
  </context>
  <context>
    <name>SyncTexts</name>
    <message>
      <source>新增住户</source>
      <translation>New household</translation>
    </message>
    <message>
      <source>住户信息修改</source>
      <translation>Household change</translation>
    </message>
    <message>
      <source>走访记录</source>
      <translation>Visit</translation>
    </message>
    <message>
      <source>事件上报</source>
      <translation>Event report</translation>
    </message>
    <message>
      <source>事件跟进</source>
      <translation>Event follow-up</translation>
    </message>
    <message>
      <source>巡查记录</source>
      <translation>Patrol</translation>
    </message>
    <message>
      <source>巡查事项结果</source>
      <translation>Checklist result</translation>
    </message>
    <message>
      <source>巡查轨迹</source>
      <translation>Patrol track</translation>
    </message>
    <message>
      <source>照片说明</source>
      <translation>Photo details</translation>
    </message>
    <message>
      <source>住户标签修改</source>
      <translation>Household tag changes</translation>
    </message>
    <message>
      <source>新增家庭成员</source>
      <translation>New household members</translation>
    </message>
    <message>
      <source>家庭成员信息修改</source>
      <translation>Household member changes</translation>
    </message>
    <message>
      <source>移除家庭成员</source>
      <translation>Removed household members</translation>
    </message>
    <message>
      <source>冲突处理决定</source>
      <translation>Conflict decision</translation>
    </message>
    <message>
      <source>照片</source>
      <translation>Photos</translation>
    </message>
    <message>
      <source>住户信息</source>
      <translation>Household details</translation>
    </message>
    <message>
      <source>修改冲突</source>
      <translation>Edit conflict</translation>
    </message>
    <message>
      <source>事件</source>
      <translation>Event</translation>
    </message>
    <message>
      <source>任务</source>
      <translation>Task</translation>
    </message>
    <message>
      <source>同事的走访记录</source>
      <translation>A colleague's visit</translation>
    </message>
    <message>
      <source>中心的设置</source>
      <translation>Centre setting</translation>
    </message>
    <message>
      <source>本软件版本较旧，还不认识这种数据</source>
      <translation>this version of the app does not know this kind yet</translation>
    </message>
    <message>
      <source>新类型的数据</source>
      <translation>A new kind of item</translation>
    </message>
    <message>
      <source>本软件暂时无法保存这条数据</source>
      <translation>this app cannot save it yet</translation>
    </message>
    <message>
      <source>内容不完整或格式不对</source>
      <translation>incomplete or in the wrong form</translation>
    </message>
    <message>
      <source>不属于你负责的网格</source>
      <translation>not in a grid assigned to you</translation>
    </message>
    <message>
      <source>中心找不到这条记录</source>
      <translation>the centre does not have this record</translation>
    </message>
    <message>
      <source>中心已有同一编号但内容不同的记录</source>
      <translation>the centre has a different record with the same number</translation>
    </message>
    <message>
      <source>只有网格长可以处理冲突</source>
      <translation>only the grid leader settles conflicts</translation>
    </message>
    <message>
      <source>这条冲突已经有人处理过了</source>
      <translation>this conflict was already settled</translation>
    </message>
    <message>
      <source>冲突发生后这一项又被改过，您的选择没有生效；请查看住户现在的信息</source>
      <translation>This item was changed again after the conflict arose, so your choice was not applied; check the household's current details</translation>
    </message>
    <message>
      <source>本设备只能查看，不能上传</source>
      <translation>this device may only read, not send</translation>
    </message>
    <message>
      <source>中心不认识这种记录，请更新软件</source>
      <translation>the centre does not know this kind of record; please update the app</translation>
    </message>
    <message>
      <source>记录编号已被别的设备使用</source>
      <translation>the record number is used by another device</translation>
    </message>
    <message>
      <source>原因不明</source>
      <translation>reason unknown</translation>
    </message>
    <message>
      <source>户主姓名</source>
      <translation>head of household</translation>
    </message>
    <message>
      <source>地址</source>
      <translation>address</translation>
    </message>
    <message>
      <source>类别</source>
      <translation>category</translation>
    </message>
    <message>
      <source>电话</source>
      <translation>phone</translation>
    </message>
    <message>
      <source>身份证号</source>
      <translation>ID number</translation>
    </message>
    <message>
      <source>标签</source>
      <translation>tags</translation>
    </message>
    <message>
      <source>成员姓名</source>
      <translation>Member name</translation>
    </message>
    <message>
      <source>与户主关系</source>
      <translation>Relation to head</translation>
    </message>
    <message>
      <source>居住类型</source>
      <translation>Residence</translation>
    </message>
    <message>
      <source>成员移除</source>
      <translation>Member removal</translation>
    </message>
    <message>
      <source>移除该成员</source>
      <translation>Remove this member</translation>
    </message>
    <message>
      <source>保留该成员并修改（{changes}）</source>
      <translation>Keep this member, changed ({changes})</translation>
    </message>
    <message>
      <source>保留该成员</source>
      <translation>Keep this member</translation>
    </message>
    <message>
      <source>（空）</source>
      <translation>(empty)</translation>
    </message>
    <message>
      <source>一般家庭</source>
      <translation>ordinary</translation>
    </message>
    <message>
      <source>困难家庭</source>
      <translation>hardship</translation>
    </message>
    <message>
      <source>重点人员家庭</source>
      <translation>key persons</translation>
    </message>
    <message>
      <source>、</source>
      <translation>, </translation>
    </message>
    <message>
      <source>今天 {time}</source>
      <translation>today {time}</translation>
    </message>
    <message>
      <source>{month}月{day}日 {time}</source>
      <translation>{month}/{day} {time}</translation>
    </message>
    <message>
      <source>{n} KB</source>
      <translation>{n} KB</translation>
    </message>
    <message>
      <source>{n} MB</source>
      <translation>{n} MB</translation>
    </message>
    <message>
      <source>这个地址上没有指挥中心的服务，请检查服务器地址。</source>
      <translation>There is no command centre service at this address. Please check the server address.</translation>
    </message>
    <message>
      <source>指挥中心拒绝了登记（代码{status}），请向信息管理员询问。</source>
      <translation>The command centre refused the enrollment (code {status}). Please ask your IT administrator.</translation>
    </message>
    <message>
      <source>指挥中心的服务器出了问题（代码{status}）。数据已保存在本机，稍后会自动再试。</source>
      <translation>The command centre's server has a problem (code {status}). Your data is kept on this device; it tries again by itself later.</translation>
    </message>
    <message>
      <source>指挥中心不认可本设备的身份，请联系信息管理员。数据已保存在本机。</source>
      <translation>The command centre does not recognise this device. Please contact your IT administrator. Your data is kept on this device.</translation>
    </message>
    <message>
      <source>指挥中心的回答无法识别，请确认服务器地址是否正确。</source>
      <translation>The command centre's answer could not be understood. Please check the server address.</translation>
    </message>
    <message>
      <source>同步时发生了意外错误，已记录下来。数据已保存在本机，稍后会自动再试。</source>
      <translation>An unexpected error happened while syncing; it has been logged. Your data is kept on this device; it tries again by itself later.</translation>
    </message>
    <message>
      <source>{n}秒</source>
      <translation>{n} s</translation>
    </message>
    <message>
      <source>{n}分钟</source>
      <translation>{n} min</translation>
    </message>
    <message>
      <source>{n}小时</source>
      <translation>{n} h</translation>
    </message>
    <message>
      <source>上传记录</source>
      <translation>sending records</translation>
    </message>
    <message>
      <source>接收任务和事件</source>
      <translation>receiving tasks and events</translation>
    </message>
    <message>
      <source>上传照片</source>
      <translation>sending photos</translation>
    </message>
    <message>
      <source>巡查清单</source>
      <translation>patrol checklist</translation>
    </message>
    <message>
      <source>走访巡查频次</source>
      <translation>visit and patrol quotas</translation>
    </message>
    <message>
      <source>督导规则</source>
      <translation>review rules</translation>
    </message>
    <message>
      <source>事件分类</source>
      <translation>event classes</translation>
    </message>
    <message>
      <source>已启用指挥中心签名的新配置：{keys}</source>
      <translation>New configuration signed by the command centre now in force: {keys}</translation>
    </message>
    <message>
      <source>还要上传{n}条记录和{size}照片</source>
      <translation>Still to send: {n} records and {size} of photos</translation>
    </message>
    <message>
      <source>还要上传{n}条记录</source>
      <translation>Still to send: {n} records</translation>
    </message>
    <message>
      <source>还要上传{size}照片</source>
      <translation>Still to send: {size} of photos</translation>
    </message>
    <message>
      <source>，按现在的网速约需{time}</source>
      <translation>, about {time} at the current network speed</translation>
    </message>
    <message>
      <source>。</source>
      <translation>.</translation>
    </message>
  </context>
  <context>
    <name>TasksPage</name>
    <message>
      <source>任务</source>
      <translation>Tasks</translation>
    </message>
    <message>
      <source>未读{unread}条，待回复的任务{open}条</source>
      <translation>Unread: {unread} · to answer: {open}</translation>
    </message>
    <message>
      <source>尚未与指挥中心连接。

设备登记后，指挥中心派给您的任务和通知会显示在这里。</source>
      <translation>Not connected to the command centre yet.

Once the device is enrolled, tasks and notices the centre sends you will appear here.</translation>
    </message>
    <message>
      <source>现在没有任务。

指挥中心派来的任务和通知，同步后会显示在这里。</source>
      <translation>No tasks now.

Tasks and notices from the command centre appear here after a sync.</translation>
    </message>
    <message>
      <source>指挥中心的通知</source>
      <translation>Notice from the command centre</translation>
    </message>
    <message>
      <source>指挥中心的任务</source>
      <translation>Task from the command centre</translation>
    </message>
    <message>
      <source>返回列表</source>
      <translation>Back to the list</translation>
    </message>
    <message>
      <source>已确认收到</source>
      <translation>Receipt confirmed</translation>
    </message>
    <message>
      <source>确认收到</source>
      <translation>Confirm receipt</translation>
    </message>
    <message>
      <source>再回复一条</source>
      <translation>Answer again</translation>
    </message>
    <message>
      <source>回复</source>
      <translation>Answer</translation>
    </message>
    <message>
      <source>我的回复</source>
      <translation>My answers</translation>
    </message>
    <message>
      <source>{when}：{text}</source>
      <translation>{when}: {text}</translation>
    </message>
    <message>
      <source>（没有文字）</source>
      <translation>(no text)</translation>
    </message>
    <message>
      <source>附照片{n}张</source>
      <translation>{n} photo(s) attached</translation>
    </message>
    <message>
      <source>附上报的事件</source>
      <translation>Reported event attached</translation>
    </message>
  </context>
  <context>
    <name>TodayPage</name>
    <message>
      <source>今天</source>
      <translation>Today</translation>
    </message>
    <message>
      <source>逾期和本周到期</source>
      <translation>Overdue and due this week</translation>
    </message>
    <message>
      <source>本期进度</source>
      <translation>Progress this period</translation>
    </message>
    <message>
      <source>今天的巡查</source>
      <translation>Today's patrols</translation>
    </message>
    <message>
      <source>继续巡查</source>
      <translation>Continue patrol</translation>
    </message>
    <message>
      <source>开始巡查</source>
      <translation>Start patrol</translation>
    </message>
    <message>
      <source>查看全部</source>
      <translation>Show all</translation>
    </message>
    <message>
      <source>网格长或指导员对{n}条走访记录提出了意见，需要更正。</source>
      <translation>Your grid leader or supervisor commented on {n} visit records: please correct them.</translation>
    </message>
    <message>
      <source>查看意见</source>
      <translation>See the comments</translation>
    </message>
    <message>
      <source>正在统计…</source>
      <translation>Counting…</translation>
    </message>
    <message>
      <source>现在无法统计走访任务，请稍后再打开本页。</source>
      <translation>The visit figures cannot be counted right now. Please open this page again later.</translation>
    </message>
    <message>
      <source>逾期{overdue}户，本周到期{soon}户。</source>
      <translation>{overdue} households overdue, {soon} due this week.</translation>
    </message>
    <message>
      <source>没有逾期或本周到期的住户。</source>
      <translation>No household is overdue or due this week.</translation>
    </message>
    <message numerus="yes">
      <source>本月已有%n天巡查（本月第{so_far}天）</source>
      <translation>
        <numerusform>Patrols on %n day this month (day {so_far} of the month)</numerusform>
        <numerusform>Patrols on %n days this month (day {so_far} of the month)</numerusform>
      </translation>
    </message>
    <message>
      <source>{start}至{end}，逾期{overdue}户</source>
      <translation>{start} to {end}, {overdue} overdue</translation>
    </message>
    <message>
      <source>{grid}的巡查还没有结束：已检查{done}/{total}项。</source>
      <translation>The patrol of {grid} is not finished: {done} of {total} checked.</translation>
    </message>
    <message>
      <source>指挥中心还没有给您分配网格，请联系网格长或信息管理员。</source>
      <translation>The command centre has not assigned you any grid yet. Please ask your grid leader or the IT administrator.</translation>
    </message>
    <message>
      <source>您负责的网格，每个网格每天至少巡查一次：</source>
      <translation>Your grids; patrol each at least once a day:</translation>
    </message>
    <message>
      <source>本设备还没有登记到指挥中心，不知道您负责哪些网格。下面是本设备上巡查过的网格：</source>
      <translation>This device is not enrolled with the command centre yet, so it does not know your grids. Grids patrolled on this device:</translation>
    </message>
    <message>
      <source>本设备还没有登记到指挥中心，不知道您负责哪些网格。开始巡查时，输入要巡查的网格编号即可。</source>
      <translation>This device is not enrolled with the command centre yet, so it does not know your grids. When you start a patrol, type the grid number.</translation>
    </message>
    <message>
      <source>今天已巡查</source>
      <translation>Patrolled today</translation>
    </message>
    <message>
      <source>今天还没有巡查</source>
      <translation>Not patrolled yet today</translation>
    </message>
  </context>
  <context>
    <name>TouchPhotoPicker</name>
    <message>
      <source>图片文件夹</source>
      <translation>Pictures folder</translation>
    </message>
    <message>
      <source>U盘/存储卡：{name}</source>
      <translation>USB drive/card: {name}</translation>
    </message>
    <message>
      <source>选择照片</source>
      <translation>Choose a photo</translation>
    </message>
    <message>
      <source>点一下要用的照片</source>
      <translation>Tap the photo to use</translation>
    </message>
    <message>
      <source>上一级</source>
      <translation>Up one level</translation>
    </message>
    <message>
      <source>刷新</source>
      <translation>Refresh</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>没有找到图片文件夹或U盘。插入存储卡或U盘后点“刷新”。</source>
      <translation>No pictures folder or USB drive found. Insert a memory card or USB drive, then tap "Refresh".</translation>
    </message>
    <message>
      <source>这个文件夹里没有照片。可以点上面的其他位置，或插入存储卡后点“刷新”。</source>
      <translation>There are no photos in this folder. Tap another place above, or insert a memory card and tap "Refresh".</translation>
    </message>
  </context>
  <context>
    <name>TrackDialog</name>
    <message>
      <source>巡查轨迹</source>
      <translation>Patrol track</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
    <message>
      <source>还没有记录到定位点。</source>
      <translation>No positions recorded yet.</translation>
    </message>
  </context>
  <context>
    <name>TrackView</name>
    <message>
      <source>{s}秒</source>
      <translation>{s} s</translation>
    </message>
    <message>
      <source>{m}分{s}秒</source>
      <translation>{m} min {s} s</translation>
    </message>
    <message>
      <source>{h}小时{m}分钟</source>
      <translation>{h} h {m} min</translation>
    </message>
    <message>
      <source>还没有收到定位信号
已等待{waited}。
请到室外开阔的地方，远离高楼和大树。</source>
      <translation>No GPS position yet
Waiting for {waited}.
Go outdoors to an open place, away from tall buildings and trees.</translation>
    </message>
    <message>
      <source>已经{waited}没有收到新的定位信号</source>
      <translation>No new GPS position for {waited}</translation>
    </message>
  </context>
  <context>
    <name>UnlockScreen</name>
    <message>
      <source>忘记PIN码？</source>
      <translation>Forgot PIN?</translation>
    </message>
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
    <message>
      <source>忘记PIN码时，请打电话给{name}：{phone}。IT会给您一个恢复码，数据不会丢失。</source>
      <translation>If you forget your PIN, call {name}: {phone}. IT will give you a recovery code; no data is lost.</translation>
    </message>
    <message>
      <source>忘记PIN码时，请联系单位的IT人员，他们会给您一个恢复码，数据不会丢失。</source>
      <translation>If you forget your PIN, contact your office's IT staff: they will give you a recovery code; no data is lost.</translation>
    </message>
  </context>
  <context>
    <name>UpdateSettings</name>
    <message>
      <source>软件更新</source>
      <translation>Software update</translation>
    </message>
    <message>
      <source>立即更新</source>
      <translation>Update now</translation>
    </message>
    <message>
      <source>试点</source>
      <translation>pilot</translation>
    </message>
    <message>
      <source>正式</source>
      <translation>stable</translation>
    </message>
    <message>
      <source>当前版本：{version}；更新通道：{channel}</source>
      <translation>Version {version}; update channel: {channel}</translation>
    </message>
    <message>
      <source>当前版本已被撤回，将回退到 {version}。</source>
      <translation>This version has been withdrawn; the app will return to {version}.</translation>
    </message>
    <message>
      <source>{version} 还没有下载完，同步时继续下载。</source>
      <translation>{version} is not fully downloaded yet; the download continues at each sync.</translation>
    </message>
    <message>
      <source>新版本 {version} 已下载并验证（{size}），可以安装。</source>
      <translation>New version {version} downloaded and verified ({size}), ready to install.</translation>
    </message>
    <message>
      <source>有新版本 {version}（{size}），已下载 {done}，同步时继续下载。</source>
      <translation>New version {version} ({size}): {done} downloaded so far; the download goes on at each sync.</translation>
    </message>
    <message>
      <source>已是最新版本。</source>
      <translation>This is the latest version.</translation>
    </message>
    <message>
      <source>还没有检查过更新（同步成功后自动检查）。</source>
      <translation>Not checked for updates yet (checked after each successful sync).</translation>
    </message>
  </context>
  <context>
    <name>VerifyDialog</name>
    <message>
      <source>现场核查</source>
      <translation>Check on the spot</translation>
    </message>
    <message>
      <source>指挥中心说这个事件已经办结。请到现场看一看，拍照后告诉我们结果。</source>
      <translation>The command centre says this event has been handled. Please go and look, take a photo and tell us the result.</translation>
    </message>
    <message>
      <source>1. 问题解决了吗</source>
      <translation>1. Is the problem solved?</translation>
    </message>
    <message>
      <source>已解决</source>
      <translation>Solved</translation>
    </message>
    <message>
      <source>没有解决</source>
      <translation>Not solved</translation>
    </message>
    <message>
      <source>2. 说明（没有解决时必填）</source>
      <translation>2. Note (required when not solved)</translation>
    </message>
    <message>
      <source>2. 说明（可以不写）</source>
      <translation>2. Note (optional)</translation>
    </message>
    <message>
      <source>3. 现场照片（至少一张）</source>
      <translation>3. Photos on the spot (at least one)</translation>
    </message>
    <message>
      <source>提交核查结果</source>
      <translation>Send the result</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
  </context>
  <context>
    <name>VisitDialog</name>
    <message>
      <source>{name}（户主）</source>
      <translation>{name} (head)</translation>
    </message>
    <message>
      <source>{name}（{relation}）</source>
      <translation>{name} ({relation})</translation>
    </message>
    <message>
      <source>记录走访</source>
      <translation>Record a visit</translation>
    </message>
    <message>
      <source>走访：{name}（{address}）</source>
      <translation>Visit: {name} ({address})</translation>
    </message>
    <message>
      <source>更正走访记录</source>
      <translation>Correct a visit</translation>
    </message>
    <message>
      <source>更正 {name} 的走访记录。原记录会保留，并标明已被更正。</source>
      <translation>Correcting the visit to {name}. The old record is kept and marked as corrected.</translation>
    </message>
    <message>
      <source>走访方式</source>
      <translation>How</translation>
    </message>
    <message>
      <source>见到的人</source>
      <translation>People met</translation>
    </message>
    <message>
      <source>例如：户主和老伴</source>
      <translation>For example: the head of household and spouse</translation>
    </message>
    <message>
      <source>走访情况（必填）</source>
      <translation>Situation (required)</translation>
    </message>
    <message>
      <source>需求和问题</source>
      <translation>Needs and problems</translation>
    </message>
    <message>
      <source>答应跟进的事</source>
      <translation>Follow-up promised</translation>
    </message>
    <message>
      <source>约定完成日期</source>
      <translation>Promised by</translation>
    </message>
    <message>
      <source>照片</source>
      <translation>Photos</translation>
    </message>
    <message>
      <source>拍照</source>
      <translation>Take photo</translation>
    </message>
    <message>
      <source>选择图片</source>
      <translation>Choose picture</translation>
    </message>
    <message>
      <source>正在处理照片…</source>
      <translation>Processing the photo…</translation>
    </message>
    <message>
      <source>位置</source>
      <translation>Position</translation>
    </message>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>保存走访</source>
      <translation>Save visit</translation>
    </message>
    <message>
      <source>保存更正</source>
      <translation>Save correction</translation>
    </message>
    <message>
      <source>没有定位。这次走访会不带位置保存，这也可以。</source>
      <translation>No position. The visit will be saved without one, and that is fine.</translation>
    </message>
    <message>
      <source>北纬{lat}°，东经{lon}°</source>
      <translation>{lat}° N, {lon}° E</translation>
    </message>
    <message>
      <source>本设备没有可用的摄像头。请点“选择图片”，从相册或存储卡里选一张照片。</source>
      <translation>This device has no usable camera. Tap "Choose picture" to pick a photo from the gallery or memory card.</translation>
    </message>
    <message>
      <source>一次走访最多{n}张照片。</source>
      <translation>At most {n} photos per visit.</translation>
    </message>
    <message>
      <source>走访已保存（{name}家），有网络时会自动上传。</source>
      <translation>Visit saved ({name}'s household); it uploads by itself when there is a network.</translation>
    </message>
    <message>
      <source>更正已保存，原记录标为已更正。</source>
      <translation>Correction saved; the original record is marked as corrected.</translation>
    </message>
    <message>
      <source>还没有保存。要放弃这次填写的内容吗？</source>
      <translation>Not saved yet. Throw away what you have entered?</translation>
    </message>
    <message>
      <source>放弃</source>
      <translation>Throw away</translation>
    </message>
    <message>
      <source>继续填写</source>
      <translation>Keep editing</translation>
    </message>
  </context>
  <context>
    <name>VisitHistoryDialog</name>
    <message>
      <source>走访记录</source>
      <translation>Visits</translation>
    </message>
    <message>
      <source>记录走访</source>
      <translation>Record a visit</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
    <message>
      <source>这户还没有走访记录。</source>
      <translation>No visits to this household yet.</translation>
    </message>
    <message>
      <source>{name}家的走访记录</source>
      <translation>Visits to {name}'s household</translation>
    </message>
    <message>
      <source>已被更正，以新的记录为准</source>
      <translation>Corrected: the newer record applies</translation>
    </message>
    <message>
      <source>这是更正后的记录</source>
      <translation>This is a corrected record</translation>
    </message>
    <message>
      <source>走访人</source>
      <translation>Visited by</translation>
    </message>
    <message>
      <source>见到的人</source>
      <translation>People met</translation>
    </message>
    <message>
      <source>走访情况</source>
      <translation>Situation</translation>
    </message>
    <message>
      <source>需求和问题</source>
      <translation>Needs and problems</translation>
    </message>
    <message>
      <source>答应跟进的事</source>
      <translation>Follow-up promised</translation>
    </message>
    <message>
      <source>约定完成日期</source>
      <translation>Promised by</translation>
    </message>
    <message>
      <source>{name}：{value}</source>
      <translation>{name}: {value}</translation>
    </message>
    <message>
      <source>审核人要求更正这条记录：请点“更正”，按意见重新填写</source>
      <translation>The reviewer asks for a correction: tap "Correct" and fill it in again as the comment says</translation>
    </message>
    <message>
      <source>审核</source>
      <translation>Review</translation>
    </message>
    <message>
      <source>更正</source>
      <translation>Correct</translation>
    </message>
  </context>
  <context>
    <name>WorkerDialog</name>
    <message>
      <source>这个月没有走访记录。</source>
      <translation>No visits this month.</translation>
    </message>
    <message>
      <source>这个月没有巡查记录。</source>
      <translation>No patrols this month.</translation>
    </message>
    <message>
      <source>{day} {start}–{end} 巡查 · {minutes}分钟</source>
      <translation>{day} {start}–{end} patrol · {minutes} min</translation>
    </message>
    <message>
      <source>走了{km}公里，轨迹{points}个点</source>
      <translation>{km} km walked, {points} track points</translation>
    </message>
    <message numerus="yes">
      <source>；检查{done}/{total}项，发现问题%n项</source>
      <translation>
        <numerusform>; {done}/{total} items checked, %n problem found</numerusform>
        <numerusform>; {done}/{total} items checked, %n problems found</numerusform>
      </translation>
    </message>
    <message>
      <source>发现问题 {code}{note}</source>
      <translation>Problem {code}{note}</translation>
    </message>
    <message>
      <source>看轨迹</source>
      <translation>Show track</translation>
    </message>
    <message>
      <source>督导：{name}</source>
      <translation>Review: {name}</translation>
    </message>
    <message>
      <source>{name} · {month} · 得分{score:g} · 疑点{flags}条</source>
      <translation>{name} · {month} · score {score:g} · {flags} flags</translation>
    </message>
    <message>
      <source>走访（{n}）</source>
      <translation>Visits ({n})</translation>
    </message>
    <message>
      <source>巡查（{n}）</source>
      <translation>Patrols ({n})</translation>
    </message>
    <message>
      <source>关闭</source>
      <translation>Close</translation>
    </message>
    <message>
      <source>圆点：走访位置（红色有疑点）；小房子：住户登记位置。</source>
      <translation>Dots: visit positions (red: flagged); houses: households' registered positions.</translation>
    </message>
    <message>
      <source>{day}的巡查轨迹（{points}个点）和当天的走访位置。</source>
      <translation>The patrol track of {day} ({points} points) and that day's visit positions.</translation>
    </message>
    <message>
      <source>这次巡查没有轨迹。</source>
      <translation>This patrol has no track.</translation>
    </message>
  </context>
  <context>
    <name>_Drill</name>
    <message>
      <source>虚线：网格边界。</source>
      <translation> Dashed line: the grid's boundary.</translation>
    </message>
    <message>
      <source>疑点：{reason}</source>
      <translation>Flag: {reason}</translation>
    </message>
    <message>
      <source>审核</source>
      <translation>Review</translation>
    </message>
    <message>
      <source>再审核（现为{state}）</source>
      <translation>Review again (now: {state})</translation>
    </message>
    <message>
      <source>{when} {how}{who}</source>
      <translation>{when} {how}{who}</translation>
    </message>
    <message>
      <source>{name}（{address}）</source>
      <translation>{name} ({address})</translation>
    </message>
    <message>
      <source>这是对 {id} 的更正</source>
      <translation>This corrects {id}</translation>
    </message>
    <message>
      <source>培训记录，不计入考核</source>
      <translation>Training record, not counted</translation>
    </message>
    <message>
      <source>见到的人：{text}</source>
      <translation>People met: {text}</translation>
    </message>
    <message>
      <source>走访情况：{text}</source>
      <translation>Situation: {text}</translation>
    </message>
    <message>
      <source>需求和问题：{text}</source>
      <translation>Needs and problems: {text}</translation>
    </message>
    <message>
      <source>承诺跟进：{text}</source>
      <translation>Follow-up promised: {text}</translation>
    </message>
    <message>
      <source>在地图上看</source>
      <translation>Show on map</translation>
    </message>
    <message>
      <source>这户的走访</source>
      <translation>Household's visits</translation>
    </message>
    <message>
      <source>没有定位</source>
      <translation>No position</translation>
    </message>
    <message>
      <source>有定位（住户没有登记位置）</source>
      <translation>Has a position (the household has no registered position)</translation>
    </message>
    <message>
      <source>定位距住户登记位置{distance}米</source>
      <translation>{distance} m from the household's registered position</translation>
    </message>
  </context>
  <context>
    <name>_EventDialog</name>
    <message>
      <source>照片还在处理，请稍等一下再提交。</source>
      <translation>The photo is still being processed; please wait a moment, then send.</translation>
    </message>
  </context>
  <context>
    <name>basic</name>
    <message>
      <source>清除</source>
      <translation>Clear</translation>
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
      <source>注意：本机没有TPM安全芯片：有人复制了数据（和系统密钥库）后，可以离线反复猜PIN码。</source>
      <translation>Note: no TPM security chip: someone who copies the data (and the system keystore) can guess the PIN offline.</translation>
    </message>
    <message>
      <source>TPM 2.0 安全芯片（{name}）</source>
      <translation>TPM 2.0 security chip ({name})</translation>
    </message>
    <message>
      <source>系统密钥库（{name}）</source>
      <translation>system keyring ({name})</translation>
    </message>
    <message>
      <source>数据目录中的文件（{name}）</source>
      <translation>a file in the data directory ({name})</translation>
    </message>
    <message>
      <source>未知</source>
      <translation>unknown</translation>
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
      <source>设置以来输错PIN码总次数：{n}</source>
      <translation>Wrong PINs since set-up: {n}</translation>
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
      <source>PIN码已用恢复码重设，本机数据都在。恢复码已失效。</source>
      <translation>The PIN has been reset with the recovery code; all data on this device is kept. The recovery code no longer works.</translation>
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
    <message>
      <source>离线地图：{name}（{kind}，{format}图片）</source>
      <translation>Offline map: {name} ({kind}, {format} images)</translation>
    </message>
    <message>
      <source>缩放级别：{low}-{high}</source>
      <translation>Zoom levels: {low}-{high}</translation>
    </message>
    <message>
      <source>文件：{path}（{size:.1f} MB）</source>
      <translation>File: {path} ({size:.1f} MB)</translation>
    </message>
    <message>
      <source>安装时间：{when}</source>
      <translation>Installed: {when}</translation>
    </message>
    <message>
      <source>范围：北纬{south:.4f}-{north:.4f}，东经{west:.4f}-{east:.4f}</source>
      <translation>Area: latitude {south:.4f}-{north:.4f} N, longitude {west:.4f}-{east:.4f} E</translation>
    </message>
    <message>
      <source>来源：{source}</source>
      <translation>Source: {source}</translation>
    </message>
    <message>
      <source>已安装离线地图。</source>
      <translation>Offline map installed.</translation>
    </message>
    <message>
      <source>没有安装离线地图：地图只显示浅色网格和比例尺。</source>
      <translation>No offline map installed: maps show only a light grid and the scale bar.</translation>
    </message>
    <message>
      <source>已删除离线地图。</source>
      <translation>Offline map removed.</translation>
    </message>
    <message>
      <source>没有安装离线地图。</source>
      <translation>No offline map is installed.</translation>
    </message>
  </context>
  <context>
    <name>cliHelp</name>
    <message>
      <source>网格化服务管理外勤设备：命令行工具</source>
      <translation>Grid field client: device tools</translation>
    </message>
    <message>
      <source>审计日志</source>
      <translation>the audit log</translation>
    </message>
    <message>
      <source>检查哈希链是否完整</source>
      <translation>check the hash chain</translation>
    </message>
    <message>
      <source>导出为JSON Lines文件</source>
      <translation>export as JSON lines</translation>
    </message>
    <message>
      <source>要写入的文件</source>
      <translation>file to write</translation>
    </message>
    <message>
      <source>设备数据目录（默认：本系统的用户数据目录）</source>
      <translation>device data directory (default: the platform's user data directory)</translation>
    </message>
    <message>
      <source>从标准输入读取PIN码</source>
      <translation>read the PIN from stdin</translation>
    </message>
    <message>
      <source>输出JSON，供程序读取</source>
      <translation>machine-readable output</translation>
    </message>
    <message>
      <source>设置本设备（PIN码从标准输入读取）</source>
      <translation>set up this device (PIN on stdin)</translation>
    </message>
    <message>
      <source>显示设备状态（加 --pin-stdin 时解锁后显示更多）</source>
      <translation>show the device state (unlocks with --pin-stdin)</translation>
    </message>
    <message>
      <source>修改PIN码：旧PIN码和新PIN码分两行从标准输入读取</source>
      <translation>old and new PIN as two lines on stdin</translation>
    </message>
    <message>
      <source>忘记PIN码：IT给的恢复码和新PIN码分两行从标准输入读取</source>
      <translation>forgotten PIN: IT's recovery code and the new PIN as two lines on stdin</translation>
    </message>
    <message>
      <source>本设备上报的事件及其当前状态</source>
      <translation>this device's events and their current status</translation>
    </message>
    <message>
      <source>辖区的离线地图（瓦片文件）</source>
      <translation>the offline map (tile archive) of the district</translation>
    </message>
    <message>
      <source>安装MBTiles或PMTiles地图文件</source>
      <translation>install an MBTiles or PMTiles file</translation>
    </message>
    <message>
      <source>.mbtiles或.pmtiles文件</source>
      <translation>the .mbtiles or .pmtiles file</translation>
    </message>
    <message>
      <source>显示已安装的地图</source>
      <translation>which map is installed</translation>
    </message>
    <message>
      <source>卸载地图</source>
      <translation>uninstall the map</translation>
    </message>
    <message>
      <source>巡查检查清单</source>
      <translation>the patrol checklist</translation>
    </message>
    <message>
      <source>显示当前使用的检查清单（已安装的版本需要 --pin-stdin）</source>
      <translation>print the checklist in force (installed versions need --pin-stdin)</translation>
    </message>
    <message>
      <source>安装签名的检查清单（FILE和FILE.sig）</source>
      <translation>install a signed checklist file (FILE and FILE.sig)</translation>
    </message>
    <message>
      <source>检查清单定义（JSON）</source>
      <translation>checklist definition (JSON)</translation>
    </message>
    <message>
      <source>单独的签名文件（默认：FILE.sig）</source>
      <translation>detached signature (default: FILE.sig)</translation>
    </message>
    <message>
      <source>GPS轨迹</source>
      <translation>GPS tracks</translation>
    </message>
    <message>
      <source>把GPS记录仪的NMEA或GPX记录导入为轨迹</source>
      <translation>import an NMEA or GPX log from a GPS logger as a track</translation>
    </message>
    <message>
      <source>NMEA记录或GPX文件</source>
      <translation>NMEA log or GPX file</translation>
    </message>
    <message>
      <source>把轨迹附到这次巡查</source>
      <translation>attach the track to this patrol</translation>
    </message>
    <message>
      <source>轨迹所属网格编号（默认：巡查的网格）</source>
      <translation>grid id of the track (default: the patrol's)</translation>
    </message>
    <message>
      <source>默认：自动识别</source>
      <translation>default: detected</translation>
    </message>
    <message>
      <source>轨迹简化容差，单位米（默认3）</source>
      <translation>simplification tolerance in metres (default 3)</translation>
    </message>
    <message>
      <source>取证照片</source>
      <translation>evidence photos</translation>
    </message>
    <message>
      <source>通过照片处理流程导入图片文件</source>
      <translation>import image files through the pipeline</translation>
    </message>
    <message>
      <source>图片文件（JPEG、PNG、HEIF）或包含它们的文件夹</source>
      <translation>image files (JPEG, PNG, HEIF) or folders of them</translation>
    </message>
    <message>
      <source>纬度（WGS-84，度）</source>
      <translation>latitude, WGS-84 degrees</translation>
    </message>
    <message>
      <source>经度（WGS-84，度）</source>
      <translation>longitude, WGS-84 degrees</translation>
    </message>
    <message>
      <source>水印中显示的网格名称</source>
      <translation>grid name shown in the watermark</translation>
    </message>
    <message>
      <source>照片所属网格编号（用于同步）</source>
      <translation>grid id the photo belongs to (for sync)</translation>
    </message>
    <message>
      <source>水印中显示的网格员姓名</source>
      <translation>worker name shown in the watermark</translation>
    </message>
    <message>
      <source>水印中显示的地点名称</source>
      <translation>place name shown in the watermark</translation>
    </message>
    <message>
      <source>即使以前导入过，也再导入一次</source>
      <translation>import a file again even if it was imported before</translation>
    </message>
    <message>
      <source>把照片解密后写成JPEG文件</source>
      <translation>write a photo's JPEG decrypted</translation>
    </message>
    <message>
      <source>要写入的文件（或文件夹）</source>
      <translation>file (or folder) to write</translation>
    </message>
    <message>
      <source>释放已上传到中心的照片原图占用的空间（缩略图保留）</source>
      <translation>free the space of full photos already uploaded to the centre (thumbnails are kept)</translation>
    </message>
    <message>
      <source>只显示能释放多少，不删除</source>
      <translation>only show how much could be freed; delete nothing</translation>
    </message>
    <message>
      <source>网格员的任务完成情况（PIN码从标准输入读取）</source>
      <translation>the worker's quota status (PIN on stdin)</translation>
    </message>
    <message>
      <source>最多列出多少户逾期或到期的住户（默认20）</source>
      <translation>how many overdue or due households to list (default 20)</translation>
    </message>
    <message>
      <source>本月每位网格员的督导数据（PIN码从标准输入读取）</source>
      <translation>the month's review figures per worker (PIN on stdin)</translation>
    </message>
    <message>
      <source>月份（默认：本月）</source>
      <translation>the month (default: this month)</translation>
    </message>
    <message>
      <source>只看这个网格（默认：全部）</source>
      <translation>only this grid (default: all)</translation>
    </message>
    <message>
      <source>按姓名、拼音、首字母、地址或号码尾号查找住户</source>
      <translation>find households by name, pinyin, initials, address or number tail</translation>
    </message>
    <message>
      <source>要查找的内容（留空：全部住户）</source>
      <translation>what to look for (empty: all households)</translation>
    </message>
    <message>
      <source>只查有这个标签的住户</source>
      <translation>only households with this tag</translation>
    </message>
    <message>
      <source>只查需要走访的住户</source>
      <translation>only households due for a visit</translation>
    </message>
    <message>
      <source>最多显示多少户（默认50）</source>
      <translation>at most this many (default 50)</translation>
    </message>
    <message>
      <source>跳过前面多少户</source>
      <translation>skip this many first</translation>
    </message>
    <message>
      <source>任务收件箱（未读的在前）</source>
      <translation>the task inbox (unread first)</translation>
    </message>
    <message>
      <source>确认收到任务</source>
      <translation>acknowledge a task (确认收到)</translation>
    </message>
    <message>
      <source>任务编号</source>
      <translation>task id</translation>
    </message>
    <message>
      <source>回复任务（文字，可附照片和事件）</source>
      <translation>answer a task with text (and photos, an event)</translation>
    </message>
    <message>
      <source>回复内容</source>
      <translation>the answer</translation>
    </message>
    <message>
      <source>已保存照片的编号（可重复）</source>
      <translation>id of a stored photo (repeatable)</translation>
    </message>
    <message>
      <source>为这个任务上报的事件编号</source>
      <translation>id of an event reported for this task</translation>
    </message>
    <message>
      <source>指挥中心服务器地址</source>
      <translation>central server URL</translation>
    </message>
    <message>
      <source>一次性登记码</source>
      <translation>one-time enrollment code</translation>
    </message>
    <message>
      <source>给管理员看的设备名称</source>
      <translation>name shown to the administrator</translation>
    </message>
    <message>
      <source>随机种子（输出可重复）</source>
      <translation>repeatable output</translation>
    </message>
    <message>
      <source>把本设备登记到指挥中心</source>
      <translation>enroll this device with a central server</translation>
    </message>
    <message>
      <source>与指挥中心完整同步一次</source>
      <translation>one full sync with the central server</translation>
    </message>
    <message>
      <source>生成模拟的外勤数据（培训数据）</source>
      <translation>synthetic field work (training data)</translation>
    </message>
    <message>
      <source>签名的软件更新（检查、状态、安装）</source>
      <translation>signed software updates (check, status, apply)</translation>
    </message>
    <message>
      <source>立即向指挥中心查询新版本，下载、验证并准备安装</source>
      <translation>ask the centre for a new version now; download, verify and stage it</translation>
    </message>
    <message>
      <source>最多下载这么多字节（默认不限）</source>
      <translation>download at most this many bytes (default: no limit)</translation>
    </message>
    <message>
      <source>只说明有什么可更新，不下载</source>
      <translation>only say what is available; do not download</translation>
    </message>
    <message>
      <source>已安装、已准备和待安装的更新，以及现在能否安装</source>
      <translation>installed, staged and pending update, and whether it may be installed now</translation>
    </message>
    <message>
      <source>下次启动时安装已准备好的更新（巡查中或有未同步数据时说明原因）</source>
      <translation>install the staged update at the next start (or say why it must wait: a patrol under way, unsynced records)</translation>
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
      <source>设备已锁定，请先解锁。</source>
      <translation>The device is locked. Please unlock it first.</translation>
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
      <source>按IT的要求，PIN码至少需要{digits}位数字。</source>
      <translation>IT requires a PIN of at least {digits} digits.</translation>
    </message>
    <message>
      <source>恢复码不正确或已用过。请核对后重新输入，或请信息管理员重新查询本机的恢复码。</source>
      <translation>The recovery code is wrong or has already been used. Check it and enter it again, or ask IT to look up this device's recovery code again.</translation>
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
      <source>找不到设置本设备时使用的TPM 2.0安全芯片，无法解锁。请联系IT人员。（{reason}）</source>
      <translation>The TPM 2.0 security chip this device was set up with cannot be found, so it cannot be unlocked. Please contact IT. ({reason})</translation>
    </message>
    <message>
      <source>TPM 2.0安全芯片中已没有本设备的密钥（设备已被擦除或芯片已被清除），数据无法恢复。</source>
      <translation>The TPM 2.0 security chip no longer holds this device's key (the device was erased or the chip was cleared); the data cannot be recovered.</translation>
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
      <source>设备的存储空间已满，现在无法打开或保存数据。数据都还在，这也不是PIN码错误（没有计入错误次数）。设备还剩{free}，至少需要再腾出{needed}。本机照片共占{photos}：程序能打开时，在“设置”的“照片占用的空间”里点“释放已同步照片”，删掉已上传到中心的照片原图（IT可用命令 fieldclient photos free-synced）；打不开时，请先删除不需要的文件（如下载的视频）。</source>
      <translation>The device's storage is full, so data cannot be opened or saved now. All data is still there, and this is not a wrong PIN (no failed attempt was counted). {free} is left; at least {needed} more must be freed. Photos on this device use {photos}: while the app opens, tap "Free synced photos" under "Space used by photos" in Settings to delete the full images of photos already uploaded to the centre (IT can run fieldclient photos free-synced); if it does not open, first delete files you do not need (such as downloaded videos).</translation>
    </message>
    <message>
      <source>数据库版本（{found}）比本程序支持的版本（{supported}）新，请升级程序。</source>
      <translation>The database version ({found}) is newer than this program supports ({supported}). Please update the program.</translation>
    </message>
    <message>
      <source>数据库升级到第{version}版失败，数据已保持原样。备份在：{backup}</source>
      <translation>Upgrading the database to version {version} failed; the data was left as it was. Backup: {backup}</translation>
    </message>
    <message>
      <source>巡查清单没有签名，已拒绝使用。请向信息管理员索取签名后的清单。</source>
      <translation>The patrol checklist is not signed and was refused. Ask your IT administrator for a signed checklist.</translation>
    </message>
    <message>
      <source>巡查清单的签名无效（文件被改动过，或不是信息管理员签发的），已拒绝使用。</source>
      <translation>The patrol checklist's signature is not valid (the file was changed, or it was not issued by your IT administrator); it was refused.</translation>
    </message>
    <message>
      <source>巡查清单的内容格式不正确，已拒绝使用：{reason}</source>
      <translation>The patrol checklist is not in the right format and was refused: {reason}</translation>
    </message>
    <message>
      <source>巡查清单第{version}版不比本机已有的第{current}版新，没有安装。</source>
      <translation>Patrol checklist version {version} is not newer than version {current} on this device; it was not installed.</translation>
    </message>
    <message>
      <source>本机已有内容不同的巡查清单第{version}版，没有安装。请联系信息管理员。</source>
      <translation>This device already has a different patrol checklist version {version}; it was not installed. Contact your IT administrator.</translation>
    </message>
    <message>
      <source>本机的巡查清单由指挥中心签名下发，不能再从文件安装。请信息管理员在指挥中心发布。</source>
      <translation>This device's checklist comes signed from the command centre and can no longer be installed from a file. Ask IT to publish it at the centre.</translation>
    </message>
    <message>
      <source>本机没有巡查清单第{version}版。</source>
      <translation>Patrol checklist version {version} is not on this device.</translation>
    </message>
    <message>
      <source>GPX文件无法读取（{reason}）。</source>
      <translation>The GPX file cannot be read ({reason}).</translation>
    </message>
    <message>
      <source>GPX文件含有文档类型或实体声明，出于安全考虑已拒绝导入。</source>
      <translation>The GPX file contains a document type or entity declaration and was refused for security reasons.</translation>
    </message>
    <message>
      <source>照片处理失败。</source>
      <translation>The photo could not be processed.</translation>
    </message>
    <message>
      <source>照片“{name}”是空文件，没有保存。</source>
      <translation>The photo "{name}" is an empty file; nothing was saved.</translation>
    </message>
    <message>
      <source>无法读取照片“{name}”：文件已损坏，或不是支持的格式（{formats}）。没有保存。</source>
      <translation>Cannot read the photo "{name}": the file is damaged or not in a supported format ({formats}). Nothing was saved.</translation>
    </message>
    <message>
      <source>照片“{name}”太大（{megapixels}百万像素或{megabytes}MB），无法处理。没有保存。</source>
      <translation>The photo "{name}" is too large ({megapixels} megapixels or {megabytes} MB) to process. Nothing was saved.</translation>
    </message>
    <message>
      <source>无法打开文件“{name}”：{reason}</source>
      <translation>Cannot open the file "{name}": {reason}</translation>
    </message>
    <message>
      <source>找不到能显示中文的字体，无法给照片加水印，照片没有保存。请安装中文字体（例如 fonts-noto-cjk）。</source>
      <translation>No font that can show Chinese was found, so the photo cannot be watermarked and was not saved. Please install a Chinese font (for example fonts-noto-cjk).</translation>
    </message>
    <message>
      <source>位置无效：纬度须在-90到90之间，经度须在-180到180之间，且两者要同时提供。</source>
      <translation>Invalid position: latitude must be between -90 and 90, longitude between -180 and 180, and both must be given.</translation>
    </message>
    <message>
      <source>找不到照片“{photo_id}”。</source>
      <translation>Photo "{photo_id}" not found.</translation>
    </message>
    <message>
      <source>照片“{photo_id}”的内容与记录的校验值不一致，可能已被篡改。</source>
      <translation>The content of photo "{photo_id}" does not match its recorded checksum; it may have been tampered with.</translation>
    </message>
    <message>
      <source>照片“{photo_id}”已上传到中心，为腾出空间已从本机释放原图；本机只留有缩略图，原图请在中心查看。</source>
      <translation>Photo "{photo_id}" was uploaded to the centre and its full image freed from this device to make space; only its thumbnail is here. See the full photo at the centre.</translation>
    </message>
    <message>
      <source>文件中没有可用的定位点（读到{read}个点，全部因精度差或无定位被过滤）。</source>
      <translation>The file has no usable positions ({read} points read, all filtered out for poor accuracy or no fix).</translation>
    </message>
    <message>
      <source>无法读取轨迹文件“{path}”：{reason}</source>
      <translation>Cannot read the track file "{path}": {reason}</translation>
    </message>
    <message>
      <source>无法识别轨迹文件“{path}”的格式：只支持NMEA日志和GPX文件。</source>
      <translation>The format of the track file "{path}" is not recognised: only NMEA logs and GPX files are supported.</translation>
    </message>
    <message>
      <source>同步失败。数据已保存在本机，下次同步会继续。</source>
      <translation>Sync failed. Your data is safe on this device; the next sync will continue.</translation>
    </message>
    <message>
      <source>同步已停止。数据已保存在本机，下次同步会继续。</source>
      <translation>Sync stopped. Your data is saved on this device; the next sync carries on.</translation>
    </message>
    <message>
      <source>无法连接服务器，请检查网络后再试。数据已保存在本机，下次同步会继续。</source>
      <translation>Cannot reach the server. Check the network and try again. Your data is safe on this device; the next sync will continue.</translation>
    </message>
    <message>
      <source>网络中途断开。已传完的部分已保存，下次同步从断点继续。</source>
      <translation>The connection dropped part-way. What got through is kept; the next sync carries on from there.</translation>
    </message>
    <message>
      <source>服务器响应超时，网络可能太慢。数据已保存在本机，下次同步会继续。</source>
      <translation>The server took too long to answer; the network may be too slow. Your data is safe on this device; the next sync will continue.</translation>
    </message>
    <message>
      <source>服务器繁忙，请约{seconds}秒后再试。数据已保存在本机。</source>
      <translation>The server is busy. Try again in about {seconds} seconds. Your data is safe on this device.</translation>
    </message>
    <message>
      <source>服务器出错（{status}）：{detail}</source>
      <translation>Server error ({status}): {detail}</translation>
    </message>
    <message>
      <source>本软件版本太旧，指挥中心已不再接收。请更新本软件。数据已保存在本机，不会丢失，更新后会自动上传。</source>
      <translation>This app is too old for the command centre. Please update the app. Your records are kept on this device and nothing is lost; they go up after the update.</translation>
    </message>
    <message>
      <source>服务器拒绝了本设备的身份验证（{reason}），请联系信息管理员。</source>
      <translation>The server refused this device's credentials ({reason}). Contact your IT administrator.</translation>
    </message>
    <message>
      <source>本机时间与服务器相差太大，请校准本机时间。</source>
      <translation>This device's clock is too far from the server's. Please correct the device time.</translation>
    </message>
    <message>
      <source>本设备已被信息管理员注销，本机数据已按要求销毁。请交回设备或重新注册。</source>
      <translation>This device was revoked by the IT administrator and its data has been erased as instructed. Return the device or enroll it again.</translation>
    </message>
    <message>
      <source>本设备已被信息管理员注销。未上传的记录和照片正在上传，上传完成后本机数据将被销毁。请保持联网。</source>
      <translation>IT has revoked this device. Records and photos not yet uploaded are being uploaded; once they are, the data on this device will be destroyed. Please stay connected.</translation>
    </message>
    <message>
      <source>服务器要求清除本机数据，但这个指令没有指挥中心的有效签名，已忽略。数据仍在本机。请联系信息管理员。</source>
      <translation>The server asked this device to erase its data, but the command does not carry the centre's valid signature, so it was ignored. The data is still on this device. Please contact IT.</translation>
    </message>
    <message>
      <source>这个服务器的身份和二维码上的不一致，没有登记。请向信息管理员确认服务器地址。</source>
      <translation>This server's identity does not match the QR code, so the device was not enrolled. Please check the server address with IT.</translation>
    </message>
    <message>
      <source>注册码无效、已过期或已被使用，请向信息管理员索取新的注册码。</source>
      <translation>The enrollment code is invalid, expired or already used. Ask your IT administrator for a new enrollment code.</translation>
    </message>
    <message>
      <source>本设备尚未在服务器注册，请先用注册码注册。</source>
      <translation>This device is not enrolled with a server yet. Enroll it with an enrollment code first.</translation>
    </message>
    <message>
      <source>本设备已经注册到服务器 {server}，不能重复注册。</source>
      <translation>This device is already enrolled with the server {server}; it cannot enroll again.</translation>
    </message>
    <message>
      <source>服务器地址无效：{url}（应以 http:// 或 https:// 开头）</source>
      <translation>Invalid server address: {url} (it must start with http:// or https://)</translation>
    </message>
    <message>
      <source>为了数据安全，服务器地址必须以 https:// 开头（只有本机测试可以用 http://）：{url}</source>
      <translation>To keep the data safe, the server address must start with https:// (http:// only for a server on this device): {url}</translation>
    </message>
    <message>
      <source>服务器的安全证书和登记时的不一致，为保护数据已停止同步，什么也没有发送。请联系信息管理员。</source>
      <translation>The server's security certificate is not the one it had at enrollment. Sync stopped to protect the data; nothing was sent. Please contact IT.</translation>
    </message>
    <message>
      <source>只有网格长可以处理冲突。</source>
      <translation>Only the grid leader can settle conflicts.</translation>
    </message>
    <message>
      <source>找不到这条冲突记录，或它已经处理过了。</source>
      <translation>This conflict was not found, or it has already been settled.</translation>
    </message>
    <message>
      <source>找不到这次巡查（{patrol_id}）。</source>
      <translation>This patrol cannot be found ({patrol_id}).</translation>
    </message>
    <message>
      <source>网格{grid_id}的巡查还没有结束，请先结束或放弃它，再开始新的巡查。</source>
      <translation>The patrol of grid {grid_id} has not finished yet. Finish or abandon it before starting a new patrol.</translation>
    </message>
    <message>
      <source>这次巡查已经结束，不能再修改。</source>
      <translation>This patrol has finished and can no longer be changed.</translation>
    </message>
    <message>
      <source>巡查清单里没有“{code}”这一项。</source>
      <translation>The patrol checklist has no item "{code}".</translation>
    </message>
    <message>
      <source>“{item}”发现问题时必须拍照留证：请先拍照，再保存。</source>
      <translation>A problem found under "{item_en}" needs a photo as evidence: take a photo first, then save.</translation>
    </message>
    <message>
      <source>还有{missing}项没有检查，请检查完再结束巡查。</source>
      <translation>{missing} items have not been checked yet. Check them before finishing the patrol.</translation>
    </message>
    <message>
      <source>备注太长了，最多{limit}个字。</source>
      <translation>The note is too long: at most {limit} characters.</translation>
    </message>
    <message>
      <source>每一项最多{limit}张照片。</source>
      <translation>At most {limit} photos per item.</translation>
    </message>
    <message>
      <source>请选择一个事件类别。</source>
      <translation>Please choose a kind of event.</translation>
    </message>
    <message>
      <source>请写一句话说明发现的问题，再上报。</source>
      <translation>Write a sentence about the problem, then report it.</translation>
    </message>
    <message>
      <source>文字太长了，最多{limit}个字。</source>
      <translation>The text is too long: at most {limit} characters.</translation>
    </message>
    <message>
      <source>紧急程度只能是一般、紧急或特急。</source>
      <translation>Urgency must be normal, urgent or emergency.</translation>
    </message>
    <message>
      <source>地址太长了，最多{limit}个字。</source>
      <translation>The address is too long: at most {limit} characters.</translation>
    </message>
    <message>
      <source>照片太多了，一次最多{limit}张。</source>
      <translation>Too many photos: at most {limit} at a time.</translation>
    </message>
    <message>
      <source>找不到要附上的照片（{photo_id}），请重新拍照。</source>
      <translation>The photo to attach ({photo_id}) cannot be found; please take it again.</translation>
    </message>
    <message>
      <source>找不到这户住户（{household_id}）。</source>
      <translation>This household ({household_id}) cannot be found.</translation>
    </message>
    <message>
      <source>找不到这个事件（{event_id}）。</source>
      <translation>This event ({event_id}) cannot be found.</translation>
    </message>
    <message>
      <source>这个事件现在是“{status}”，不需要补充材料。只有被退回的事件才能补充。</source>
      <translation>This event is now "{status}": no more information is needed. Only a returned event can be supplemented.</translation>
    </message>
    <message>
      <source>请写明补充的情况，再提交。</source>
      <translation>Please write the additional information, then send.</translation>
    </message>
    <message>
      <source>这个事件现在是“{status}”，还不能核查。要等指挥中心办结后才能现场核查。</source>
      <translation>This event is now "{status}": it cannot be checked yet. The on-the-spot check comes after the command centre has handled it.</translation>
    </message>
    <message>
      <source>现场核查至少要拍一张照片。</source>
      <translation>The on-the-spot check needs at least one photo.</translation>
    </message>
    <message>
      <source>请选择核查结果：已解决，或没有解决。</source>
      <translation>Please choose the result: solved, or not solved.</translation>
    </message>
    <message>
      <source>没有解决时，请写明还存在什么问题。</source>
      <translation>When it is not solved, please write what is still wrong.</translation>
    </message>
    <message>
      <source>您已经提交过了，正在等待上传到指挥中心。</source>
      <translation>You have already sent this; it is waiting to be uploaded to the command centre.</translation>
    </message>
    <message>
      <source>找不到这条任务（编号{task_id}）。请先同步。</source>
      <translation>Task {task_id} was not found. Please sync first.</translation>
    </message>
    <message>
      <source>回复是空的。请写几句话、拍张照片或上报一个事件，再发送。</source>
      <translation>The answer is empty. Write a few words, take a photo or report an event, then send.</translation>
    </message>
    <message>
      <source>回复太长了，最多{limit}个字。</source>
      <translation>The answer is too long: at most {limit} characters.</translation>
    </message>
    <message>
      <source>一条回复最多带{limit}张照片。</source>
      <translation>An answer can carry at most {limit} photos.</translation>
    </message>
    <message>
      <source>找不到要附上的照片（编号{photo_id}），请重新拍照。</source>
      <translation>The photo to attach ({photo_id}) was not found. Please take it again.</translation>
    </message>
    <message>
      <source>请选择走访方式。</source>
      <translation>Please choose how the visit was made.</translation>
    </message>
    <message>
      <source>请写一句走访的情况，再保存。</source>
      <translation>Please write a sentence about the situation, then save.</translation>
    </message>
    <message>
      <source>有一项内容太长了，最多{limit}个字。</source>
      <translation>One of the entries is too long: at most {limit} characters.</translation>
    </message>
    <message>
      <source>一次走访最多{limit}张照片。</source>
      <translation>At most {limit} photos per visit.</translation>
    </message>
    <message>
      <source>有一张照片在本设备上找不到了，请重新拍照。</source>
      <translation>A photo can no longer be found on this device. Please take it again.</translation>
    </message>
    <message>
      <source>本设备上没有这户的记录。</source>
      <translation>This household is not on this device.</translation>
    </message>
    <message>
      <source>找不到要更正的走访记录。</source>
      <translation>The visit to correct cannot be found.</translation>
    </message>
    <message>
      <source>这条走访记录已经更正过了，请更正最新的那一条。</source>
      <translation>This visit was corrected already. Please correct the newest record.</translation>
    </message>
    <message>
      <source>更正只能针对同一户的走访记录。</source>
      <translation>A correction must be for a visit to the same household.</translation>
    </message>
    <message>
      <source>您的角色不能查看这项敏感信息。</source>
      <translation>Your role may not see this sensitive information.</translation>
    </message>
    <message>
      <source>只有网格长和网格指导员可以审核。</source>
      <translation>Only grid leaders and supervisors can review.</translation>
    </message>
    <message>
      <source>不能审核自己的记录。</source>
      <translation>You cannot review your own records.</translation>
    </message>
    <message>
      <source>本设备上找不到要审核的记录。</source>
      <translation>The record to review is not on this device.</translation>
    </message>
    <message>
      <source>选“有问题”时，请写明是什么问题。</source>
      <translation>With "Has issues", please say what the issue is.</translation>
    </message>
    <message>
      <source>意见太长了，最多{limit}个字。</source>
      <translation>The comment is too long: at most {limit} characters.</translation>
    </message>
    <message>
      <source>找不到离线地图文件：{path}</source>
      <translation>Offline map file not found: {path}</translation>
    </message>
    <message>
      <source>这个文件不是离线地图（应为MBTiles或PMTiles格式）：{path}</source>
      <translation>This file is not an offline map (it must be MBTiles or PMTiles): {path}</translation>
    </message>
    <message>
      <source>离线地图文件已损坏或不完整，无法使用：{path}（{detail}）</source>
      <translation>The offline map file is damaged or incomplete and cannot be used: {path} ({detail})</translation>
    </message>
    <message>
      <source>离线地图的瓦片必须是PNG或JPEG图片，这个文件里是“{kind}”：{path}</source>
      <translation>Offline map tiles must be PNG or JPEG images; this file holds "{kind}": {path}</translation>
    </message>
    <message>
      <source>离线地图文件里没有地图瓦片：{path}</source>
      <translation>The offline map file holds no map tiles: {path}</translation>
    </message>
    <message>
      <source>网格边界数据无法读取（{reason}）。</source>
      <translation>The grid boundary cannot be read ({reason}).</translation>
    </message>
    <message>
      <source>检查更新失败，下次同步时再试。</source>
      <translation>Checking for updates failed; it is tried again at the next sync.</translation>
    </message>
    <message>
      <source>本应用没有配置更新的信任根（root.json），无法检查更新。请联系信息管理员。</source>
      <translation>This app has no trusted root for updates (root.json), so it cannot check for updates. Please contact your IT administrator.</translation>
    </message>
    <message>
      <source>无法从服务器获取更新，下次同步时继续。已下载的部分已保存。</source>
      <translation>Could not get the update from the server; it goes on at the next sync. What was downloaded is kept.</translation>
    </message>
    <message>
      <source>下载的更新文件与签名不符（可能被篡改），已丢弃，未安装。</source>
      <translation>The downloaded update does not match its signature (it may have been tampered with); it was discarded and not installed.</translation>
    </message>
    <message>
      <source>服务器的更新签名已过期（可能是冻结攻击或服务器故障），已拒绝。请联系信息管理员。</source>
      <translation>The server's update signatures have expired (a freeze attack or a server fault); refused. Please contact your IT administrator.</translation>
    </message>
    <message>
      <source>服务器的更新信息比本机已验证过的还旧（可能是回滚攻击），已拒绝。请联系信息管理员。</source>
      <translation>The server's update information is older than what this device has already verified (a rollback attack); refused. Please contact your IT administrator.</translation>
    </message>
    <message>
      <source>更新信息的签名无效或不是受信任的密钥签的，已拒绝。请联系信息管理员。</source>
      <translation>The update information has an invalid signature or was signed by a key that is not trusted (wrong key); refused. Please contact your IT administrator.</translation>
    </message>
    <message>
      <source>服务器的更新信息无法识别，已拒绝。</source>
      <translation>The server's update information is not understood; refused.</translation>
    </message>
    <message>
      <source>存储空间不足，无法下载更新：需要{needed_mb} MB，只剩{free_mb} MB。</source>
      <translation>Not enough storage space to download the update: {needed_mb} MB needed, only {free_mb} MB free.</translation>
    </message>
    <message>
      <source>获取签名配置失败，当前配置不变，下次同步时再试。</source>
      <translation>Could not get the signed configuration; the current one stays in force. Trying again at the next sync.</translation>
    </message>
    <message>
      <source>无法从服务器获取签名配置，当前配置不变，下次同步时再试。</source>
      <translation>Could not reach the server for the signed configuration; the current one stays in force. Trying again at the next sync.</translation>
    </message>
    <message>
      <source>下载的配置文件（{key}）与签名不符（可能被篡改），已拒绝，当前配置不变。</source>
      <translation>The downloaded configuration file ({key}) does not match its signature (it may have been tampered with): refused, the current configuration stays in force.</translation>
    </message>
    <message>
      <source>指挥中心的配置签名已过期，已拒绝，当前配置不变。请联系信息管理员重新签名。</source>
      <translation>The command centre's configuration signature has expired: refused, the current configuration stays in force. Ask IT to re-sign it.</translation>
    </message>
    <message>
      <source>服务器的配置比本机已验证过的还旧（可能是回滚攻击），已拒绝，当前配置不变。</source>
      <translation>The server's configuration is older than what this device has already verified (possibly a rollback attack): refused, the current configuration stays in force.</translation>
    </message>
    <message>
      <source>配置的签名无效或不是受信任的密钥签的，已拒绝，当前配置不变。请联系信息管理员。</source>
      <translation>The configuration's signature is invalid or not made by a trusted key: refused, the current configuration stays in force. Contact IT.</translation>
    </message>
    <message>
      <source>签名配置（{key}）的内容无法使用，已拒绝，当前配置不变：{reason}</source>
      <translation>The signed configuration ({key}) cannot be used: refused, the current configuration stays in force: {reason}</translation>
    </message>
  </context>
  <context>
    <name>eventCategory</name>
    <message>
      <source>矛盾纠纷</source>
      <translation>Disputes</translation>
    </message>
    <message>
      <source>治安隐患</source>
      <translation>Public security hazards</translation>
    </message>
    <message>
      <source>安全生产</source>
      <translation>Workplace safety</translation>
    </message>
    <message>
      <source>消防安全</source>
      <translation>Fire safety</translation>
    </message>
    <message>
      <source>食品药品</source>
      <translation>Food and drugs</translation>
    </message>
    <message>
      <source>市场监管</source>
      <translation>Market supervision</translation>
    </message>
    <message>
      <source>违法建设</source>
      <translation>Illegal construction</translation>
    </message>
    <message>
      <source>市容环卫</source>
      <translation>City appearance and sanitation</translation>
    </message>
    <message>
      <source>环境保护</source>
      <translation>Environmental protection</translation>
    </message>
    <message>
      <source>道路交通</source>
      <translation>Road traffic</translation>
    </message>
    <message>
      <source>公共设施</source>
      <translation>Public facilities</translation>
    </message>
    <message>
      <source>民政救助</source>
      <translation>Civil assistance</translation>
    </message>
    <message>
      <source>特殊人群</source>
      <translation>Special groups</translation>
    </message>
    <message>
      <source>流动人口</source>
      <translation>Floating population</translation>
    </message>
    <message>
      <source>信访维稳</source>
      <translation>Petitions and stability</translation>
    </message>
    <message>
      <source>自然灾害</source>
      <translation>Natural disasters</translation>
    </message>
    <message>
      <source>卫生防疫</source>
      <translation>Health and epidemic prevention</translation>
    </message>
    <message>
      <source>教育与未成年人</source>
      <translation>Education and minors</translation>
    </message>
    <message>
      <source>劳动保障</source>
      <translation>Labour and social security</translation>
    </message>
    <message>
      <source>住房与物业</source>
      <translation>Housing and property management</translation>
    </message>
    <message>
      <source>政策咨询</source>
      <translation>Policy enquiries</translation>
    </message>
    <message>
      <source>其他</source>
      <translation>Other</translation>
    </message>
  </context>
  <context>
    <name>eventWidgets</name>
    <message>
      <source>拍照</source>
      <translation>Take photo</translation>
    </message>
    <message>
      <source>选择图片</source>
      <translation>Choose picture</translation>
    </message>
    <message>
      <source>正在处理照片…</source>
      <translation>Processing the photo…</translation>
    </message>
    <message>
      <source>本设备没有可用的摄像头。请点“选择图片”，从相册或存储卡里选一张照片。</source>
      <translation>This device has no camera available. Tap "Choose picture" to pick a photo from the gallery or a memory card.</translation>
    </message>
    <message>
      <source>北纬{lat}°，东经{lon}°</source>
      <translation>Latitude {lat}° N, longitude {lon}° E</translation>
    </message>
    <message>
      <source>还没有定位（{status}），可以不带位置上报</source>
      <translation>No position yet ({status}); you can report without one</translation>
    </message>
    <message>
      <source>我上报了事件</source>
      <translation>I reported the event</translation>
    </message>
    <message>
      <source>我补充了材料</source>
      <translation>I added information</translation>
    </message>
    <message>
      <source>我现场核查：已解决</source>
      <translation>My on-the-spot check: solved</translation>
    </message>
    <message>
      <source>我现场核查：没有解决</source>
      <translation>My on-the-spot check: not solved</translation>
    </message>
    <message>
      <source>指挥中心：{status}</source>
      <translation>Command centre: {status}</translation>
    </message>
    <message>
      <source>指挥中心备注</source>
      <translation>Command centre note</translation>
    </message>
    <message>
      <source>（事件转为“{status}”）</source>
      <translation> (the event is now "{status}")</translation>
    </message>
    <message>
      <source>照片{n}张</source>
      <translation>{n} photo(s)</translation>
    </message>
    <message>
      <source>指挥中心没有接收这条记录。</source>
      <translation>The command centre did not accept this entry.</translation>
    </message>
    <message>
      <source>待上传：有网络时会自动发送。</source>
      <translation>Waiting to upload: sent automatically when there is a network.</translation>
    </message>
  </context>
  <context>
    <name>events</name>
    <message>
      <source>共{count}个事件</source>
      <translation>{count} events</translation>
    </message>
    <message>
      <source>（待上传）</source>
      <translation> (waiting to upload)</translation>
    </message>
    <message>
      <source>（培训数据）</source>
      <translation> (training data)</translation>
    </message>
    <message>
      <source>一般</source>
      <translation>Normal</translation>
    </message>
    <message>
      <source>紧急</source>
      <translation>Urgent</translation>
    </message>
    <message>
      <source>特急</source>
      <translation>Emergency</translation>
    </message>
    <message>
      <source>待上传</source>
      <translation>Waiting to upload</translation>
    </message>
    <message>
      <source>未被接收</source>
      <translation>Not accepted</translation>
    </message>
    <message>
      <source>已上报</source>
      <translation>Reported</translation>
    </message>
    <message>
      <source>已受理</source>
      <translation>Accepted</translation>
    </message>
    <message>
      <source>已派遣</source>
      <translation>Dispatched</translation>
    </message>
    <message>
      <source>处置中</source>
      <translation>Being handled</translation>
    </message>
    <message>
      <source>已办结</source>
      <translation>Handled</translation>
    </message>
    <message>
      <source>已核查</source>
      <translation>Checked</translation>
    </message>
    <message>
      <source>已评价</source>
      <translation>Closed</translation>
    </message>
    <message>
      <source>退回</source>
      <translation>Returned</translation>
    </message>
    <message>
      <source>上报上级</source>
      <translation>Passed up</translation>
    </message>
  </context>
  <context>
    <name>excepthook</name>
    <message>
      <source>程序出现了问题，已记录。您的数据没有丢失。</source>
      <translation>Something went wrong. It has been logged. Your data is not lost.</translation>
    </message>
  </context>
  <context>
    <name>householdForm</name>
    <message>
      <source>取消</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>保存</source>
      <translation>Save</translation>
    </message>
  </context>
  <context>
    <name>households</name>
    <message>
      <source>特殊人群（已隐藏）</source>
      <translation>special group (hidden)</translation>
    </message>
    <message>
      <source>走访逾期{n}天</source>
      <translation>visit {n} days overdue</translation>
    </message>
    <message>
      <source>{month}月{day}日前走访</source>
      <translation>visit by {month}/{day}</translation>
    </message>
  </context>
  <context>
    <name>install</name>
    <message>
      <source>更新没有完成，继续使用当前版本。</source>
      <translation>The update did not finish; the current version stays.</translation>
    </message>
    <message>
      <source>更新包{version}与验证时不一致（{what}），没有安装，将重新下载。</source>
      <translation>The update package {version} is not the one that was verified ({what}); it was not installed and will be downloaded again.</translation>
    </message>
    <message>
      <source>更新包{version}含有不允许的路径（{member}），没有安装。</source>
      <translation>The update package {version} contains a path that is not allowed ({member}); it was not installed.</translation>
    </message>
    <message>
      <source>更新包{version}不是有效的发布包（{what}），没有安装。</source>
      <translation>The update package {version} is not a valid release ({what}); it was not installed.</translation>
    </message>
    <message>
      <source>更新包{version}无法解包（{what}），没有安装，继续使用当前版本。</source>
      <translation>Update package {version} could not be unpacked ({what}); it was not installed, and the current version stays in use.</translation>
    </message>
    <message>
      <source>安装记录{file}已损坏（{what}），改为启动已安装的最新版本{version}。</source>
      <translation>The install record {file} is damaged ({what}); starting the newest installed version, {version}, instead.</translation>
    </message>
    <message>
      <source>版本{version}没有安装在本设备上。</source>
      <translation>Version {version} is not installed on this device.</translation>
    </message>
    <message>
      <source>数据库已由当前版本升级到第{schema}版，{version}版无法打开它，因此不能退回；继续使用当前版本，所有记录都保留着。请信息管理员发布修复后的新版本。</source>
      <translation>The current version has upgraded the database to schema {schema}, which version {version} cannot open, so it cannot go back; the current version stays and every record is kept. IT should publish a fixed, newer version.</translation>
    </message>
    <message>
      <source>{revoked}版已被撤回，要退回的{version}版还没有下载完：同步后再试。</source>
      <translation>Version {revoked} was withdrawn, but version {version} to return to is not fully downloaded yet: sync, then try again.</translation>
    </message>
    <message>
      <source>巡查正在进行中，结束巡查后再安装更新。</source>
      <translation>A patrol is under way; the update will be installed after it ends.</translation>
    </message>
    <message>
      <source>{version}版会升级数据库，而还有{count}条记录没有同步：请先同步，再安装更新。</source>
      <translation>Version {version} upgrades the database and {count} records are not synced yet: sync first, then install the update.</translation>
    </message>
    <message>
      <source>程序已更新到{version}版。</source>
      <translation>The app has been updated to version {version}.</translation>
    </message>
    <message>
      <source>更新到{version}版没有成功（{reason}），已自动退回{restored}版。数据没有受影响。请告知信息管理员。</source>
      <translation>The update to version {version} failed ({reason}) and was undone: the app is back on version {restored}. Your data is unaffected. Please tell IT.</translation>
    </message>
    <message>
      <source>更新包{version}没有安装（{reason}），继续使用当前版本。</source>
      <translation>The update package {version} was not installed ({reason}); the current version stays.</translation>
    </message>
    <message>
      <source>{version}版已被信息管理员撤回，本设备已退回{restored}版。</source>
      <translation>IT withdrew version {version}; this device is back on version {restored}.</translation>
    </message>
    <message>
      <source>{version}版已被信息管理员撤回，但没有退回{restored}版（{reason}），继续使用{version}版。数据没有受影响。请告知信息管理员。</source>
      <translation>IT withdrew version {version}, but the device did not return to version {restored} ({reason}); it stays on version {version}. Your data is not affected. Please tell IT.</translation>
    </message>
    <message>
      <source>新版本启动时退出，代码{code}</source>
      <translation>the new version exited while starting, code {code}</translation>
    </message>
    <message>
      <source>新版本启动时崩溃，信号{code}</source>
      <translation>the new version crashed while starting, signal {code}</translation>
    </message>
    <message>
      <source>新版本{seconds}秒内没有启动</source>
      <translation>the new version did not start within {seconds} seconds</translation>
    </message>
    <message>
      <source>新版本的首次启动被中断</source>
      <translation>the new version's first start was interrupted</translation>
    </message>
    <message>
      <source>新版本的程序文件不见了</source>
      <translation>the new version's program files are missing</translation>
    </message>
    <message>
      <source>没有待安装的更新。</source>
      <translation>There is no update waiting to be installed.</translation>
    </message>
    <message>
      <source>没有可以退回的版本。</source>
      <translation>There is no version to go back to.</translation>
    </message>
  </context>
  <context>
    <name>patrol</name>
    <message>
      <source>本机已安装第{version}版巡查清单，查看它需要PIN码：请加上 --pin-stdin。</source>
      <translation>Patrol checklist version {version} is installed on this device; showing it needs the PIN: add --pin-stdin.</translation>
    </message>
    <message>
      <source>{title}（第{version}版，共{count}项）</source>
      <translation>{title} (version {version}, {count} items)</translation>
    </message>
    <message>
      <source>（发现问题须拍照）</source>
      <translation> (photo required for a problem)</translation>
    </message>
    <message>
      <source>已安装巡查清单第{version}版（{count}项）。</source>
      <translation>Patrol checklist version {version} installed ({count} items).</translation>
    </message>
    <message>
      <source>已导入轨迹：{track_id}</source>
      <translation>Track imported: {track_id}</translation>
    </message>
    <message>
      <source>保留定位点：{kept}（共读到{read}个）</source>
      <translation>Points kept: {kept} (of {read} read)</translation>
    </message>
    <message>
      <source>距离：{m}米</source>
      <translation>Distance: {m} m</translation>
    </message>
    <message>
      <source>开始时间：{t}</source>
      <translation>Start: {t}</translation>
    </message>
    <message>
      <source>结束时间：{t}</source>
      <translation>End: {t}</translation>
    </message>
    <message>
      <source>跳过损坏的行：{n}</source>
      <translation>Broken lines skipped: {n}</translation>
    </message>
    <message>
      <source>正常</source>
      <translation>Normal</translation>
    </message>
    <message>
      <source>发现问题</source>
      <translation>Problem found</translation>
    </message>
    <message>
      <source>不涉及</source>
      <translation>Not applicable</translation>
    </message>
    <message>
      <source>巡查发现问题：{item}</source>
      <translation>Problem found on patrol: {item}</translation>
    </message>
  </context>
  <context>
    <name>patrolCommon</name>
    <message>
      <source>网格 {grid}</source>
      <translation>Grid {grid}</translation>
    </message>
    <message>
      <source>{n}米</source>
      <translation>{n} m</translation>
    </message>
    <message>
      <source>{n}公里</source>
      <translation>{n} km</translation>
    </message>
    <message>
      <source>不到1分钟</source>
      <translation>under a minute</translation>
    </message>
    <message>
      <source>{h}小时{m}分钟</source>
      <translation>{h} h {m} min</translation>
    </message>
    <message>
      <source>{m}分钟</source>
      <translation>{m} min</translation>
    </message>
  </context>
  <context>
    <name>patrolDialogs</name>
    <message>
      <source>没有定位（上报时不带位置）</source>
      <translation>No position (reported without one)</translation>
    </message>
    <message>
      <source>北纬{lat}°，东经{lon}°</source>
      <translation>{lat}° N, {lon}° E</translation>
    </message>
  </context>
  <context>
    <name>photos</name>
    <message>
      <source>没有找到可导入的照片文件。</source>
      <translation>No photo files to import were found.</translation>
    </message>
    <message>
      <source>已导入过，未重复保存：{path} → {id}  SHA-256 {sha}</source>
      <translation>Already imported, not saved again: {path} → {id}  SHA-256 {sha}</translation>
    </message>
    <message>
      <source>已保存：{path} → {id}  SHA-256 {sha}</source>
      <translation>Saved: {path} → {id}  SHA-256 {sha}</translation>
    </message>
    <message>
      <source>共导入{n}张照片，失败{failed}张。</source>
      <translation>Imported {n} photo(s), {failed} failed.</translation>
    </message>
    <message>
      <source>已导出照片 {id} 到 {file}（SHA-256 {sha}）</source>
      <translation>Exported photo {id} to {file} (SHA-256 {sha})</translation>
    </message>
    <message>
      <source>本机照片{n}张，占用{size}；已上传到中心、可以释放的{free}张（{free_size}）；还没上传的{waiting}张，不会释放。</source>
      <translation>Photos on this device: {n}, using {size}; uploaded to the centre and can be freed: {free} ({free_size}); not uploaded yet (kept): {waiting}.</translation>
    </message>
    <message>
      <source>已释放{n}张照片的原图，腾出{size}（缩略图保留，原图在中心）。</source>
      <translation>Freed the full image of {n} photo(s), {size} made (thumbnails kept, full photos at the centre).</translation>
    </message>
    <message>
      <source>时间：{value}</source>
      <translation>Time: {value}</translation>
    </message>
    <message>
      <source>地点：{value}</source>
      <translation>Place: {value}</translation>
    </message>
    <message>
      <source>经纬度：{value}</source>
      <translation>Coordinates: {value}</translation>
    </message>
    <message>
      <source>网格员：{value}</source>
      <translation>Grid worker: {value}</translation>
    </message>
    <message>
      <source>网格：{value}</source>
      <translation>Grid: {value}</translation>
    </message>
    <message>
      <source>未定位</source>
      <translation>No position</translation>
    </message>
    <message>
      <source>{lat_ref}{lat}° {lon_ref}{lon}°</source>
      <translation>{lat}° {lat_ref}, {lon}° {lon_ref}</translation>
    </message>
    <message>
      <source>北纬</source>
      <translation>N</translation>
    </message>
    <message>
      <source>南纬</source>
      <translation>S</translation>
    </message>
    <message>
      <source>东经</source>
      <translation>E</translation>
    </message>
    <message>
      <source>西经</source>
      <translation>W</translation>
    </message>
  </context>
  <context>
    <name>positioning</name>
    <message>
      <source>本机定位</source>
      <translation>this device's positioning</translation>
    </message>
    <message>
      <source>GPS接收器（{port}）</source>
      <translation>GPS receiver ({port})</translation>
    </message>
    <message>
      <source>NMEA文件回放（{name}）</source>
      <translation>NMEA file replay ({name})</translation>
    </message>
    <message>
      <source>定位未开启</source>
      <translation>Positioning is off</translation>
    </message>
    <message>
      <source>本设备没有可用的定位功能，巡查轨迹不会被记录。可以在“设置”里改用GPS接收器。</source>
      <translation>This device has no positioning that can be used, so no patrol track is recorded. In Settings you can use a GPS receiver instead.</translation>
    </message>
    <message>
      <source>定位出错（{source}）：{detail}</source>
      <translation>Positioning failed ({source}): {detail}</translation>
    </message>
    <message>
      <source>NMEA文件已回放完毕</source>
      <translation>The NMEA file has been replayed to the end</translation>
    </message>
    <message>
      <source>定位正常</source>
      <translation>GPS OK</translation>
    </message>
    <message>
      <source>正在定位，请到室外开阔处…</source>
      <translation>Finding the position; please go outside, away from buildings…</translation>
    </message>
    <message>
      <source>正在定位…</source>
      <translation>Finding position…</translation>
    </message>
    <message>
      <source>本设备没有定位功能</source>
      <translation>No positioning on this device</translation>
    </message>
    <message>
      <source>定位出错</source>
      <translation>Positioning failed</translation>
    </message>
    <message>
      <source>回放结束</source>
      <translation>Replay ended</translation>
    </message>
  </context>
  <context>
    <name>quota</name>
    <message>
      <source>一般家庭</source>
      <translation>ordinary households</translation>
    </message>
    <message>
      <source>困难家庭</source>
      <translation>hardship families</translation>
    </message>
    <message>
      <source>重点人员</source>
      <translation>key persons</translation>
    </message>
    <message>
      <source>每天</source>
      <translation>a day</translation>
    </message>
    <message>
      <source>每周</source>
      <translation>a week</translation>
    </message>
    <message>
      <source>每月</source>
      <translation>a month</translation>
    </message>
    <message>
      <source>每季度</source>
      <translation>a quarter</translation>
    </message>
    <message>
      <source>每年</source>
      <translation>a year</translation>
    </message>
    <message>
      <source>巡查网格：{period}至少{times}次</source>
      <translation>Patrol the grids: at least {times} times {period}</translation>
    </message>
    <message>
      <source>{head}。本期已巡查{done}/{total}个网格；本月{days}天有巡查（已过{so_far}天）</source>
      <translation>{head}. Grids patrolled this period: {done}/{total}; patrols on {days} days this month ({so_far} days so far)</translation>
    </message>
    <message>
      <source>走访{category}：{period}至少{times}次</source>
      <translation>Visit {category}: at least {times} times {period}</translation>
    </message>
    <message>
      <source>{head}。{start}至{end}已走访{done}/{total}户，逾期{overdue}户</source>
      <translation>{head}. {start} to {end}: {done}/{total} households visited, {overdue} overdue</translation>
    </message>
    <message>
      <source>今天：{today}</source>
      <translation>Today: {today}</translation>
    </message>
    <message>
      <source>逾期{overdue}户，本周到期{soon}户。</source>
      <translation>{overdue} households overdue, {soon} due this week.</translation>
    </message>
    <message>
      <source>逾期{days}天</source>
      <translation>{days} days overdue</translation>
    </message>
    <message>
      <source>{date}到期</source>
      <translation>due {date}</translation>
    </message>
  </context>
  <context>
    <name>review</name>
    <message>
      <source>{category}{n}次</source>
      <translation>{category} {n}</translation>
    </message>
    <message>
      <source>{name}（得分{score}）：巡查{days}天（应{target}），走访{visits}次（{by_category}），逾期未走访{overdue}户，上报事件{reported}件、办结{closed}件</source>
      <translation>{name} (score {score}): patrolled on {days} days (of {target}), {visits} visits ({by_category}), {overdue} households overdue, {reported} events reported, {closed} closed</translation>
    </message>
    <message>
      <source>月份应写成“年-月”，例如 2026-03：{month}</source>
      <translation>Write the month as year-month, e.g. 2026-03: {month}</translation>
    </message>
    <message>
      <source>{month}月考核（{start}至{until}）</source>
      <translation>Assessment for {month} ({start} to {until})</translation>
    </message>
    <message>
      <source>本机没有这个网格的人员。</source>
      <translation>This device has no one in this grid.</translation>
    </message>
    <message>
      <source>走访位置距离住户登记位置{distance_m}米（超过{limit_m}米）</source>
      <translation>Recorded {distance_m} m from the household's known position (more than {limit_m} m)</translation>
    </message>
    <message>
      <source>入户走访没有定位</source>
      <translation>Home visit without a position</translation>
    </message>
    <message>
      <source>距上一次走访仅{minutes}分钟，两处相距{distance_m}米</source>
      <translation>Only {minutes} minutes after the previous visit, {distance_m} m away from it</translation>
    </message>
    <message>
      <source>巡查只有{minutes}分钟（少于{limit}分钟）</source>
      <translation>Patrol of only {minutes} minutes (less than {limit})</translation>
    </message>
    <message>
      <source>巡查几乎没有轨迹：{points}个点，{distance_m}米</source>
      <translation>Patrol with almost no track: {points} points, {distance_m} m</translation>
    </message>
    <message>
      <source>同一张照片已用于记录{first}</source>
      <translation>The same photo is already in record {first}</translation>
    </message>
    <message>
      <source>与走访记录{first}的内容相同</source>
      <translation>Same text as visit {first}</translation>
    </message>
    <message>
      <source>夜间走访（{time}）</source>
      <translation>Visit at night ({time})</translation>
    </message>
    <message>
      <source>本机</source>
      <translation>This device</translation>
    </message>
  </context>
  <context>
    <name>reviews</name>
    <message>
      <source>合格</source>
      <translation>Approved</translation>
    </message>
    <message>
      <source>有问题</source>
      <translation>Has issues</translation>
    </message>
    <message>
      <source>不合格</source>
      <translation>Rejected</translation>
    </message>
  </context>
  <context>
    <name>search</name>
    <message>
      <source>一般</source>
      <translation>ordinary</translation>
    </message>
    <message>
      <source>困难</source>
      <translation>hardship</translation>
    </message>
    <message>
      <source>重点</source>
      <translation>key</translation>
    </message>
    <message>
      <source>--limit 至少为1。</source>
      <translation>--limit must be at least 1.</translation>
    </message>
    <message>
      <source>特殊人群（已隐藏）</source>
      <translation>special group (hidden)</translation>
    </message>
    <message>
      <source>户主</source>
      <translation>Head</translation>
    </message>
    <message>
      <source>类别</source>
      <translation>Category</translation>
    </message>
    <message>
      <source>电话</source>
      <translation>Phone</translation>
    </message>
    <message>
      <source>标签</source>
      <translation>Tags</translation>
    </message>
    <message>
      <source>地址</source>
      <translation>Address</translation>
    </message>
    <message>
      <source>找到{n}户。</source>
      <translation>{n} households found.</translation>
    </message>
  </context>
  <context>
    <name>sync</name>
    <message>
      <source>已注册到服务器 {server}，设备编号 {device}</source>
      <translation>Enrolled with the server {server}, device id {device}</translation>
    </message>
    <message>
      <source>使用人：{name}，网格：{grids}</source>
      <translation>User: {name}, grids: {grids}</translation>
    </message>
    <message>
      <source>注册需要同时给出 --server 和 --enroll-code。</source>
      <translation>Enrollment needs both --server and --enroll-code.</translation>
    </message>
    <message>
      <source>同步完成。</source>
      <translation>Sync complete.</translation>
    </message>
    <message>
      <source>上传：成功{applied}，重复{duplicate}，冲突{conflict}，被拒绝{rejected}</source>
      <translation>Uploaded: {applied} applied, {duplicate} duplicates, {conflict} conflicts, {rejected} rejected</translation>
    </message>
    <message>
      <source>下载：住户{household}，冲突{conflict}，事件{event}，任务{task}</source>
      <translation>Downloaded: {household} households, {conflict} conflicts, {event} events, {task} tasks</translation>
    </message>
    <message>
      <source>没有需要同步的内容。</source>
      <translation>Nothing to sync.</translation>
    </message>
    <message>
      <source>上传记录</source>
      <translation>sending records</translation>
    </message>
    <message>
      <source>接收任务和事件</source>
      <translation>receiving tasks and events</translation>
    </message>
    <message>
      <source>上传照片</source>
      <translation>sending photos</translation>
    </message>
    <message>
      <source>已完成：{done}；未完成：{undone}（下次同步接着做）</source>
      <translation>Done: {done}; not finished: {undone} (the next sync carries on)</translation>
    </message>
    <message>
      <source>仍待上传：{n}条</source>
      <translation>Still waiting to upload: {n}</translation>
    </message>
    <message>
      <source>仍待上传的照片：{n}张，{kb}KB</source>
      <translation>Photos still to send: {n}, {kb} KB</translation>
    </message>
    <message>
      <source>按目前网速约需{minutes}分钟</source>
      <translation>About {minutes} min at the current network speed</translation>
    </message>
    <message>
      <source>其中等指挥中心升级后才能接收：{n}条（已保存在本机）</source>
      <translation>Of these, waiting for the command centre's upgrade: {n} (kept on this device)</translation>
    </message>
    <message>
      <source>来自指挥中心的{n}条数据暂时无法处理，已保存在本机，软件更新后会再试</source>
      <translation>{n} record(s) from the command centre cannot be handled yet; they are kept on this device and tried again after the app is updated</translation>
    </message>
    <message>
      <source>  {kind} {record}：{why}</source>
      <translation>  {kind} {record}: {why}</translation>
    </message>
    <message>
      <source>本软件还不认识这种数据</source>
      <translation>this app does not know this kind of record yet</translation>
    </message>
    <message>
      <source>指挥中心的版本比本软件新（协议{server}，本软件{device}）</source>
      <translation>The command centre runs a newer version than this app (protocol {server}, this app {device})</translation>
    </message>
    <message>
      <source>待网格长处理的冲突：{n}条</source>
      <translation>Conflicts waiting for the grid leader: {n}</translation>
    </message>
    <message>
      <source>已搁置（服务器拒绝）：{kind} {record}，原因：{reason}</source>
      <translation>Set aside (refused by the server): {kind} {record}, reason: {reason}</translation>
    </message>
    <message>
      <source>已搁置的记录共{n}条</source>
      <translation>Records set aside: {n} in all</translation>
    </message>
    <message>
      <source>注意：本机时间与服务器相差{seconds}秒，请校准本机时间。</source>
      <translation>Note: this device's clock is {seconds} seconds off the server's. Please correct the device time.</translation>
    </message>
    <message>
      <source>巡查清单</source>
      <translation>patrol checklist</translation>
    </message>
    <message>
      <source>走访巡查频次</source>
      <translation>visit and patrol quotas</translation>
    </message>
    <message>
      <source>督导规则</source>
      <translation>review rules</translation>
    </message>
    <message>
      <source>事件分类</source>
      <translation>event classes</translation>
    </message>
    <message>
      <source>已启用指挥中心签名的新配置：{keys}</source>
      <translation>New configuration signed by the command centre now in force: {keys}</translation>
    </message>
    <message>
      <source>数量必须在0到1000000之间。</source>
      <translation>Counts must be between 0 and 1000000.</translation>
    </message>
    <message>
      <source>已生成培训数据：走访{visits}条，巡查{patrols}次，照片{photos}张，事件{events}件（待上传{pending}条）</source>
      <translation>Training data created: {visits} visits, {patrols} patrols, {photos} photos, {events} events ({pending} waiting to upload)</translation>
    </message>
    <message>
      <source>当前版本：{installed}，更新通道：{channel}</source>
      <translation>Version {installed}, update channel: {channel}</translation>
    </message>
    <message>
      <source>当前版本已被撤回：应回退到上一个版本 {version}。</source>
      <translation>This version has been withdrawn: return to the previous version {version}.</translation>
    </message>
    <message>
      <source>当前版本已被撤回，但没有可回退的更早版本。</source>
      <translation>This version has been withdrawn, but there is no earlier version to return to.</translation>
    </message>
    <message>
      <source>新版本 {version} 已下载并验证（{size}），等待安装。</source>
      <translation>New version {version} downloaded and verified ({size}), waiting to be installed.</translation>
    </message>
    <message>
      <source>有新版本 {version}（{size}），已下载 {done}。</source>
      <translation>New version {version} ({size}), {done} downloaded.</translation>
    </message>
    <message>
      <source>已是最新版本。</source>
      <translation>This is the latest version.</translation>
    </message>
    <message>
      <source>--budget 不能是负数。</source>
      <translation>--budget cannot be negative.</translation>
    </message>
    <message>
      <source>没有待安装的更新。</source>
      <translation>No update is waiting to be installed.</translation>
    </message>
    <message>
      <source>{revoked}版已被撤回：下次启动程序时退回{version}版。</source>
      <translation>IT withdrew version {revoked}: the device returns to version {version} the next time the app starts.</translation>
    </message>
    <message>
      <source>更新{version}将在下次启动程序时安装；启动失败会自动退回当前版本。</source>
      <translation>Update {version} will be installed at the next start of the app; if it fails to start, the current version comes back by itself.</translation>
    </message>
  </context>
  <context>
    <name>taskWidgets</name>
    <message>
      <source>通知</source>
      <translation>Notice</translation>
    </message>
    <message>
      <source>截止 {month}月{day}日 {time}</source>
      <translation>Due {month}/{day} {time}</translation>
    </message>
    <message>
      <source>（已过期）</source>
      <translation> (overdue)</translation>
    </message>
    <message>
      <source>已回复</source>
      <translation>Answered</translation>
    </message>
    <message>
      <source>已确认收到</source>
      <translation>Confirmed</translation>
    </message>
    <message>
      <source>未读</source>
      <translation>Unread</translation>
    </message>
    <message>
      <source>未确认</source>
      <translation>Not confirmed</translation>
    </message>
    <message>
      <source>{month}月{day}日 {time}</source>
      <translation>{month}/{day} {time}</translation>
    </message>
  </context>
  <context>
    <name>tasks</name>
    <message>
      <source>已回复</source>
      <translation>answered</translation>
    </message>
    <message>
      <source>已确认</source>
      <translation>confirmed</translation>
    </message>
    <message>
      <source>未读</source>
      <translation>unread</translation>
    </message>
    <message>
      <source>已读</source>
      <translation>read</translation>
    </message>
    <message>
      <source>截止 {when}</source>
      <translation>due {when}</translation>
    </message>
    <message>
      <source>（已过期）</source>
      <translation> (overdue)</translation>
    </message>
    <message>
      <source>通知</source>
      <translation>notice</translation>
    </message>
    <message>
      <source>没有任务。</source>
      <translation>No tasks.</translation>
    </message>
    <message>
      <source>已确认收到，下次同步时发送给指挥中心。</source>
      <translation>Receipt confirmed; sent to the command centre at the next sync.</translation>
    </message>
    <message>
      <source>这条任务之前已经确认过了。</source>
      <translation>This task was confirmed before.</translation>
    </message>
    <message>
      <source>回复已保存，下次同步时发送给指挥中心。</source>
      <translation>Answer saved; sent to the command centre at the next sync.</translation>
    </message>
  </context>
  <context>
    <name>todayPage</name>
    <message>
      <source>巡查网格（{period}至少{times}次）</source>
      <translation>Patrol the grids (at least {times}× {period})</translation>
    </message>
    <message>
      <source>走访{category}（{period}至少{times}次）</source>
      <translation>Visit {category} (at least {times}× {period})</translation>
    </message>
  </context>
  <context>
    <name>update</name>
    <message>
      <source>正在巡查：结束巡查后才能更新。</source>
      <translation>A patrol is under way: the update can be installed after it ends.</translation>
    </message>
    <message>
      <source>还有{records}条记录、{photos}张照片未同步：同步完成后才能更新。</source>
      <translation>{records} records and {photos} photos are not synced yet: the update can be installed once they are.</translation>
    </message>
  </context>
  <context>
    <name>visits</name>
    <message>
      <source>入户走访</source>
      <translation>Home visit</translation>
    </message>
    <message>
      <source>电话联系</source>
      <translation>Phone call</translation>
    </message>
    <message>
      <source>回访</source>
      <translation>Return visit</translation>
    </message>
    <message>
      <source>其他</source>
      <translation>Other</translation>
    </message>
    <message>
      <source>本机记录</source>
      <translation>recorded on this device</translation>
    </message>
    <message>
      <source>未记录走访人</source>
      <translation>visitor not recorded</translation>
    </message>
  </context>
  <context>
    <name>voiceInput</name>
    <message>
      <source>语音</source>
      <translation>Voice</translation>
    </message>
    <message>
      <source>语音输入</source>
      <translation>Voice input</translation>
    </message>
  </context>
</TS>