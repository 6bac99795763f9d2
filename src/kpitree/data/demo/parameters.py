"""The demo company's parameters: a Japanese B2B SaaS vendor selling a KPI tool.

Values are chosen so the whole-funnel rates land inside the reference ranges
of the product brief (lead/MQL → opportunity 11–20 %, win rate 15–30 %,
renewal 80 %+), while channels and segments differ enough to make drill-downs
and bottleneck analysis interesting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kpitree.data.demo.truth import DemoTruth, LogNormal, RepMove

CURRENCY = "JPY"
BUSINESS_HOURS = (9, 18)

DEPARTMENTS = ("marketing", "inside_sales", "field_sales", "customer_success")

# team -> (department, office region); the first team of a department hosts its head.
TEAMS: Mapping[str, tuple[str, str]] = {
    "デジタルマーケティング": ("marketing", "関東"),
    "イベントマーケティング": ("marketing", "関東"),
    "インバウンドIS": ("inside_sales", "関東"),
    "アウトバウンドIS": ("inside_sales", "関西"),
    "東日本営業部": ("field_sales", "関東"),
    "西日本営業部": ("field_sales", "関西"),
    "エンタープライズ営業部": ("field_sales", "関東"),
    "オンボーディング": ("customer_success", "関東"),
    "アカウントマネジメント": ("customer_success", "関東"),
}

REGIONS = ("北海道", "東北", "関東", "中部", "関西", "中国・四国", "九州")
REGION_SHARE = (0.04, 0.05, 0.50, 0.12, 0.17, 0.05, 0.07)
# Field sales territory: 西日本営業部 covers 中部 and everything west of it.
WEST_REGIONS = frozenset({"中部", "関西", "中国・四国", "九州"})

SEGMENTS = ("enterprise", "mid", "smb")
ACCOUNT_SEGMENT_SHARE = (0.10, 0.30, 0.60)
EMPLOYEES = {  # segment -> (median, sigma, min, max)
    "enterprise": (2500.0, 0.8, 1000, 200_000),
    "mid": (280.0, 0.6, 100, 999),
    "smb": (35.0, 0.7, 5, 99),
}

INDUSTRIES = (
    "IT・通信",
    "製造",
    "卸売・小売",
    "金融・保険",
    "不動産・建設",
    "医療・福祉",
    "人材・サービス",
    "運輸・物流",
)
INDUSTRY_SHARE = (0.26, 0.22, 0.12, 0.08, 0.09, 0.06, 0.11, 0.06)
# ABM industry fit, up to 25 points (company size gives up to 30).
INDUSTRY_FIT = (25, 20, 12, 18, 10, 8, 15, 10)

CHANNELS = ("organic_search", "paid_search", "event", "webinar", "content", "referral", "outbound")
CHANNEL_SHARE = (0.22, 0.20, 0.18, 0.14, 0.14, 0.04, 0.08)
# channel -> (enterprise, mid, smb)
SEGMENT_SHARE = {
    "organic_search": (0.08, 0.32, 0.60),
    "paid_search": (0.06, 0.30, 0.64),
    "event": (0.20, 0.40, 0.40),
    "webinar": (0.12, 0.38, 0.50),
    "content": (0.10, 0.35, 0.55),
    "referral": (0.20, 0.40, 0.40),
    "outbound": (0.40, 0.45, 0.15),
}

# transition -> (base, channel factors, segment factors (enterprise, mid, smb))
_CONVERSION = {
    "lead_to_mql": (0.73, (1.05, 0.95, 0.80, 1.10, 1.00, 1.20, 1.15), (1.05, 1.00, 0.97)),
    "mql_to_sql": (0.44, (1.00, 0.90, 0.75, 0.95, 0.85, 1.60, 1.20), (1.10, 1.00, 0.95)),
    "sql_to_opportunity": (0.43, (1.00, 0.95, 0.90, 1.00, 0.95, 1.30, 0.90), (1.05, 1.00, 0.97)),
    "opportunity_to_won": (0.23, (1.00, 0.90, 0.90, 1.00, 0.95, 1.50, 0.80), (0.80, 1.00, 1.15)),
}

COST_PER_LEAD = (4_000.0, 18_000.0, 9_000.0, 7_000.0, 6_000.0, 3_000.0, 12_000.0)

LABELS_JA: Mapping[str, str] = {
    "marketing": "マーケティング",
    "inside_sales": "インサイドセールス",
    "field_sales": "フィールドセールス",
    "customer_success": "カスタマーサクセス",
    "organic_search": "自然検索",
    "paid_search": "リスティング広告",
    "event": "展示会",
    "webinar": "ウェビナー",
    "content": "資料ダウンロード",
    "referral": "紹介",
    "outbound": "アウトバウンド",
    "enterprise": "エンタープライズ",
    "mid": "中堅企業",
    "smb": "中小企業",
    "lead": "リード",
    "mql": "MQL",
    "sql": "SQL",
    "opportunity": "商談",
    "won": "受注",
    "lost": "失注",
    "disqualified": "対象外",
    "qualification": "ヒアリング",
    "proposal": "提案",
    "negotiation": "交渉",
    "closed_won": "受注",
    "closed_lost": "失注",
    "new_business": "新規",
    "upsell": "アップセル",
    "call": "架電",
    "email": "メール",
    "meeting": "商談・打合せ",
    "connected": "通話",
    "no_answer": "不在",
    "voicemail": "留守電",
    "wrong_number": "番号誤り",
    "held": "実施",
    "no_show": "不参加",
    "rescheduled": "リスケ",
    "active": "契約中",
    "renewed": "更新済",
    "churned": "解約",
}

# Calendar month -> lead volume: fiscal-year-end rush in March, half-year end in
# September, dips around Golden Week, Obon and New Year.
MONTH_SEASONALITY = {
    1: 0.85, 2: 1.00, 3: 1.30, 4: 0.95, 5: 0.88, 6: 1.02,
    7: 1.00, 8: 0.78, 9: 1.12, 10: 1.05, 11: 1.05, 12: 0.88,
}  # fmt: skip

PRODUCTS = {"enterprise": "Enterprise", "mid": "Professional", "smb": "Standard"}
ADD_ONS = ("分析オプション", "API連携オプション", "追加ライセンス")


def fiscal_year_bounds(fiscal_year: int, start_month: int) -> tuple[date, date]:
    """First and last day of ``fiscal_year`` (named by the calendar year it starts in)."""
    first = date(fiscal_year, start_month, 1)
    next_first = date(fiscal_year + (start_month - 1 + 12) // 12, (start_month - 1) % 12 + 1, 1)
    return first, next_first - timedelta(days=1)


def _probabilities() -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, (base, by_channel, by_segment) in _CONVERSION.items():
        out[name] = {
            ch: {
                seg: round(min(0.95, base * cf * sf), 4)
                for seg, sf in zip(SEGMENTS, by_segment, strict=True)
            }
            for ch, cf in zip(CHANNELS, by_channel, strict=True)
        }
    return out


def make_truth(
    *,
    seed: int,
    size: str,
    leads: int,
    cold_calls_per_lead: float = 0.9,
    fiscal_year: int,
    fiscal_year_start: int,
    tz: str,
    movers: tuple[RepMove, ...],
) -> DemoTruth:
    """The truth of one demo company; everything else is drawn from it."""
    if not 1 <= fiscal_year_start <= 12:
        raise ValueError(f"fiscal_year_start must be a month 1-12, got {fiscal_year_start}")
    period_start, _ = fiscal_year_bounds(fiscal_year - 1, fiscal_year_start)
    _, period_end = fiscal_year_bounds(fiscal_year, fiscal_year_start)
    end = datetime.combine(period_end + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))
    return DemoTruth(
        seed=seed,
        size=size,
        fiscal_year=fiscal_year,
        fiscal_year_start=fiscal_year_start,
        tz=tz,
        currency=CURRENCY,
        period_start=period_start,
        period_end=period_end,
        as_of=end.astimezone(ZoneInfo("UTC")),
        business_hours=BUSINESS_HOURS,
        departments=DEPARTMENTS,
        teams={team: dept for team, (dept, _) in TEAMS.items()},
        regions=REGIONS,
        segments=SEGMENTS,
        channels=CHANNELS,
        industries=INDUSTRIES,
        labels_ja=LABELS_JA,
        leads=leads,
        channel_share=dict(zip(CHANNELS, CHANNEL_SHARE, strict=True)),
        segment_share={ch: dict(zip(SEGMENTS, s, strict=True)) for ch, s in SEGMENT_SHARE.items()},
        region_share=dict(zip(REGIONS, REGION_SHARE, strict=True)),
        month_seasonality=MONTH_SEASONALITY,
        yoy_growth=0.18,
        non_business_day_weight=0.05,
        stage_probability=_probabilities(),
        disqualify_probability={"mql": 0.55, "sql": 0.60},
        lead_to_mql_business_hours=LogNormal(4.0, 1.6),
        first_response_business_hours=LogNormal(3.0, 1.35),
        response_sla_business_hours=24.0,
        sql_after_response_business_hours=LogNormal(27.0, 0.9),
        opportunity_after_sql_business_hours=LogNormal(45.0, 0.8),
        sales_cycle_days={
            "enterprise": LogNormal(110.0, 0.5),
            "mid": LogNormal(60.0, 0.5),
            "smb": LogNormal(30.0, 0.55),
        },
        deal_amount={
            "enterprise": LogNormal(9_000_000.0, 0.7),
            "mid": LogNormal(2_400_000.0, 0.6),
            "smb": LogNormal(600_000.0, 0.55),
        },
        call_connect_rate=0.35,
        cold_call_connect_rate=0.12,
        cold_calls_per_lead=cold_calls_per_lead,
        contract_months=12,
        renewal_probability={"enterprise": 0.92, "mid": 0.87, "smb": 0.81},
        expansion_probability=0.22,
        expansion_uplift=LogNormal(0.2, 0.5),
        contraction_probability=0.04,
        contraction_factor=0.8,
        upsell_deal_probability=0.15,
        upsell_win_rate=0.45,
        upsell_amount_share=LogNormal(0.25, 0.5),
        upsell_cycle_days=LogNormal(35.0, 0.5),
        cost_per_lead=dict(zip(CHANNELS, COST_PER_LEAD, strict=True)),
        nps_response_rate=0.35,
        nps_score_probability={
            "retained": (0.01, 0.01, 0.01, 0.02, 0.03, 0.05, 0.07, 0.15, 0.25, 0.22, 0.18),
            "churning": (0.04, 0.04, 0.06, 0.08, 0.10, 0.14, 0.14, 0.14, 0.12, 0.08, 0.06),
        },
        movers=movers,
    )
