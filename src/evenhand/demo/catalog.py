"""Fixed vocabulary of the demo company: organisation, markets, channels and Chinese names.

Numbers here are the simulation's causal parameters (how much an industry or a channel lifts the
chance a lead converts), not outcomes; outcomes come from running the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    code: str
    name: str


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    lead_weight: float
    cities: tuple[tuple[str, str], ...]  # (汉字, pinyin)


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name: str
    annual_price: float  # list price per year for a ~200-person customer, CNY
    weight: float


@dataclass(frozen=True)
class IndustrySpec:
    name: str
    weight: float
    score_points: int  # what the legacy scoring formula awards
    intent_shift: float  # true propensity to buy, on the logit scale
    word: str  # used in company names


@dataclass(frozen=True)
class ChannelSpec:
    code: str
    name: str
    score_points: int
    intent_shift: float
    web_factor: float  # how much of a website trail leads from this channel leave
    size_shift: float  # log-scale shift of company size


COMPANY = "华信云科技"
EMAIL_DOMAIN = "huaxin-demo.example"

DEPARTMENTS = (
    Named("key_accounts", "大客户部"),
    Named("smb", "中小企业部"),
    Named("channel", "渠道部"),
)

REGIONS = (
    RegionSpec("east", "华东", 0.30, (("上海", "shanghai"), ("杭州", "hangzhou"), ("苏州", "suzhou"),
                                     ("南京", "nanjing"), ("宁波", "ningbo"))),
    RegionSpec("south", "华南", 0.25, (("深圳", "shenzhen"), ("广州", "guangzhou"), ("东莞", "dongguan"),
                                      ("佛山", "foshan"), ("厦门", "xiamen"))),
    RegionSpec("north", "华北", 0.20, (("北京", "beijing"), ("天津", "tianjin"), ("石家庄", "shijiazhuang"),
                                      ("济南", "jinan"))),
    RegionSpec("central", "华中", 0.13, (("武汉", "wuhan"), ("长沙", "changsha"), ("郑州", "zhengzhou"))),
    RegionSpec("southwest", "西南", 0.12, (("成都", "chengdu"), ("重庆", "chongqing"), ("昆明", "kunming"))),
)
REGION_SCORE = {"east": 5, "south": 5, "north": 4, "central": 3, "southwest": 3}

PRODUCTS = (
    ProductSpec("sales_cloud", "销售云 CRM", 96_000, 0.40),
    ProductSpec("marketing", "营销自动化", 72_000, 0.22),
    ProductSpec("service_cloud", "客服云", 60_000, 0.20),
    ProductSpec("bi", "数据分析平台", 120_000, 0.18),
)

INDUSTRIES = (
    IndustrySpec("制造业", 0.22, 16, 0.25, "智能制造"),
    IndustrySpec("金融", 0.10, 18, 0.30, "金融服务"),
    IndustrySpec("零售", 0.12, 10, -0.05, "商贸"),
    IndustrySpec("医疗", 0.08, 14, 0.15, "医疗器械"),
    IndustrySpec("互联网", 0.14, 12, 0.0, "网络科技"),
    IndustrySpec("物流", 0.08, 10, 0.0, "供应链"),
    IndustrySpec("能源", 0.05, 12, 0.1, "新能源"),
    IndustrySpec("教育", 0.09, 8, -0.25, "教育科技"),
    IndustrySpec("房地产", 0.06, 6, -0.35, "置业"),
    IndustrySpec("公共事业", 0.06, 8, -0.2, "信息技术"),
)

CHANNELS = (
    ChannelSpec("website", "官网表单", 8, 0.0, 1.0, 0.0),
    ChannelSpec("baidu_ads", "百度推广", 3, -0.45, 0.8, -0.3),
    ChannelSpec("webinar", "线上研讨会", 10, 0.1, 1.1, 0.1),
    ChannelSpec("trade_show", "展会", 10, 0.05, 0.3, 0.6),
    ChannelSpec("partner", "渠道伙伴", 10, 0.2, 0.3, 0.2),
    ChannelSpec("referral", "转介绍", 15, 0.6, 0.4, 0.4),
)

TITLES = ("采购经理", "IT总监", "总经理", "运营总监", "销售副总裁", "信息部主管", "CIO", "市场总监", "行政经理")

# (汉字, pinyin, relative frequency)
SURNAMES = (
    ("王", "wang", 10), ("李", "li", 10), ("张", "zhang", 9), ("刘", "liu", 8), ("陈", "chen", 7),
    ("杨", "yang", 5), ("黄", "huang", 4), ("赵", "zhao", 4), ("吴", "wu", 4), ("周", "zhou", 4),
    ("徐", "xu", 3), ("孙", "sun", 3), ("马", "ma", 3), ("朱", "zhu", 3), ("胡", "hu", 3),
    ("郭", "guo", 2), ("何", "he", 2), ("高", "gao", 2), ("林", "lin", 2), ("罗", "luo", 2),
    ("郑", "zheng", 2), ("梁", "liang", 2), ("谢", "xie", 2), ("宋", "song", 2), ("唐", "tang", 2),
    ("许", "xu", 2), ("韩", "han", 2), ("冯", "feng", 2), ("邓", "deng", 2), ("曹", "cao", 2),
    ("彭", "peng", 1), ("曾", "zeng", 1), ("肖", "xiao", 1), ("田", "tian", 1), ("董", "dong", 1),
    ("潘", "pan", 1), ("袁", "yuan", 1), ("蒋", "jiang", 1), ("蔡", "cai", 1), ("余", "yu", 1),
)

GIVEN_MALE = (
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"),
    ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("刚", "gang"), ("文", "wen"),
    ("华", "hua"), ("建", "jian"), ("国", "guo"), ("亮", "liang"), ("鹏", "peng"), ("辉", "hui"),
    ("宇", "yu"), ("浩", "hao"), ("博", "bo"), ("凯", "kai"), ("海", "hai"), ("帆", "fan"),
    ("航", "hang"), ("峰", "feng"), ("志", "zhi"), ("俊", "jun"), ("斌", "bin"), ("晨", "chen"),
)
GIVEN_FEMALE = (
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
    ("娟", "juan"), ("秀", "xiu"), ("霞", "xia"), ("玲", "ling"), ("婷", "ting"), ("雪", "xue"),
    ("欣", "xin"), ("佳", "jia"), ("怡", "yi"), ("思", "si"), ("雨", "yu"), ("琳", "lin"),
    ("晓", "xiao"), ("颖", "ying"), ("倩", "qian"), ("丹", "dan"), ("楠", "nan"), ("慧", "hui"),
    ("萍", "ping"), ("梅", "mei"), ("悦", "yue"), ("洁", "jie"), ("晨", "chen"), ("文", "wen"),
)

BRAND = (
    ("华", "hua"), ("信", "xin"), ("中", "zhong"), ("联", "lian"), ("宏", "hong"), ("达", "da"),
    ("恒", "heng"), ("通", "tong"), ("新", "xin"), ("锐", "rui"), ("瑞", "rui"), ("安", "an"),
    ("博", "bo"), ("远", "yuan"), ("盛", "sheng"), ("泰", "tai"), ("金", "jin"), ("海", "hai"),
    ("天", "tian"), ("正", "zheng"), ("明", "ming"), ("创", "chuang"), ("鑫", "xin"), ("东", "dong"),
    ("方", "fang"), ("立", "li"), ("诚", "cheng"), ("凯", "kai"), ("智", "zhi"), ("云", "yun"),
    ("汇", "hui"), ("德", "de"), ("科", "ke"), ("川", "chuan"), ("星", "xing"), ("美", "mei"),
)
COMPANY_SUFFIXES = ("有限公司", "股份有限公司", "集团有限公司")

LEAVE_REASONS = ("年假", "病假", "事假", "婚假", "培训")

NOTE_TEXTS = (
    "已电话沟通，客户有意向",
    "客户要求发送报价",
    "约定下周产品演示",
    "客户暂无预算，三个月后再跟进",
    "已发送产品资料，等待反馈",
    "客户正在比较竞品",
    "需求已确认，准备方案",
    "联系人已转交IT负责人",
)
EMAIL_SUBJECTS = ("产品资料", "解决方案介绍", "客户案例分享", "报价单", "合同草案", "会议纪要", "试用账号开通")
PAGES = ("/", "/pricing", "/product/crm", "/product/marketing", "/product/service", "/product/bi",
         "/cases/manufacturing", "/cases/finance", "/about", "/contact")
WHITEPAPERS = ("《制造业数字化转型白皮书》", "《销售管理效率报告》", "《客户服务智能化指南》", "《数据驱动增长白皮书》")
WEBINARS = ("线上研讨会：销售过程数字化", "线上研讨会：营销自动化实战", "线上研讨会：经营分析看板")
NURTURE_EMAILS = ("月度产品通讯", "行业案例精选", "活动邀请")
