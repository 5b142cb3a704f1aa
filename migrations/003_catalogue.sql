-- Service catalogue: divisions, items and their standard, versioned lists, local variants, FAQ.
--
-- Search documents (`search_doc`) are built by the application (backend/catalogue/search.py) as
-- positional tsvectors of character bigrams, so that matching never depends on the server's locale.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- GB/T 2260 divisions from backend/catalogue/data/divisions.json. Retired codes stay so that old
-- records still resolve, with the code that replaced them.
CREATE TABLE divisions (
    code        char(6) PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'prefecture', 'county')),
    kind        text,
    parent      char(6) REFERENCES divisions (code),
    replaced_by char(6),
    retired_in  integer
);
CREATE INDEX divisions_parent ON divisions (parent);

-- Which version of a reference file was loaded, so start-up reloads only when the file changed.
CREATE TABLE reference_data (
    name      text PRIMARY KEY,
    digest    text NOT NULL,
    rows      integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

-- The divisions as of this migration, generated from divisions.json (the file is the source; when it
-- changes, start-up loads the difference, see CatalogueService.sync_reference_data).
INSERT INTO divisions (code, name, level, kind, parent, replaced_by, retired_in) VALUES
    ('110000', '北京市', 'province', '直辖市', NULL, NULL, NULL),
    ('110101', '东城区', 'county', '市辖区', '110000', NULL, NULL),
    ('110102', '西城区', 'county', '市辖区', '110000', NULL, NULL),
    ('110105', '朝阳区', 'county', '市辖区', '110000', NULL, NULL),
    ('110106', '丰台区', 'county', '市辖区', '110000', NULL, NULL),
    ('110107', '石景山区', 'county', '市辖区', '110000', NULL, NULL),
    ('110108', '海淀区', 'county', '市辖区', '110000', NULL, NULL),
    ('110109', '门头沟区', 'county', '市辖区', '110000', NULL, NULL),
    ('110111', '房山区', 'county', '市辖区', '110000', NULL, NULL),
    ('110112', '通州区', 'county', '市辖区', '110000', NULL, NULL),
    ('110113', '顺义区', 'county', '市辖区', '110000', NULL, NULL),
    ('110114', '昌平区', 'county', '市辖区', '110000', NULL, NULL),
    ('110115', '大兴区', 'county', '市辖区', '110000', NULL, NULL),
    ('110116', '怀柔区', 'county', '市辖区', '110000', NULL, NULL),
    ('110117', '平谷区', 'county', '市辖区', '110000', NULL, NULL),
    ('110118', '密云区', 'county', '市辖区', '110000', NULL, NULL),
    ('110119', '延庆区', 'county', '市辖区', '110000', NULL, NULL),
    ('120000', '天津市', 'province', '直辖市', NULL, NULL, NULL),
    ('120101', '和平区', 'county', '市辖区', '120000', NULL, NULL),
    ('120102', '河东区', 'county', '市辖区', '120000', NULL, NULL),
    ('120103', '河西区', 'county', '市辖区', '120000', NULL, NULL),
    ('120104', '南开区', 'county', '市辖区', '120000', NULL, NULL),
    ('120105', '河北区', 'county', '市辖区', '120000', NULL, NULL),
    ('120106', '红桥区', 'county', '市辖区', '120000', NULL, NULL),
    ('120110', '东丽区', 'county', '市辖区', '120000', NULL, NULL),
    ('120111', '西青区', 'county', '市辖区', '120000', NULL, NULL),
    ('120112', '津南区', 'county', '市辖区', '120000', NULL, NULL),
    ('120113', '北辰区', 'county', '市辖区', '120000', NULL, NULL),
    ('120114', '武清区', 'county', '市辖区', '120000', NULL, NULL),
    ('120115', '宝坻区', 'county', '市辖区', '120000', NULL, NULL),
    ('120116', '滨海新区', 'county', '市辖区', '120000', NULL, NULL),
    ('120117', '宁河区', 'county', '市辖区', '120000', NULL, NULL),
    ('120118', '静海区', 'county', '市辖区', '120000', NULL, NULL),
    ('120119', '蓟州区', 'county', '市辖区', '120000', NULL, NULL),
    ('130000', '河北省', 'province', '省', NULL, NULL, NULL),
    ('130100', '石家庄市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130200', '唐山市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130300', '秦皇岛市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130400', '邯郸市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130500', '邢台市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130600', '保定市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130700', '张家口市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130800', '承德市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('130900', '沧州市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('131000', '廊坊市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('131100', '衡水市', 'prefecture', '地级市', '130000', NULL, NULL),
    ('140000', '山西省', 'province', '省', NULL, NULL, NULL),
    ('140100', '太原市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140200', '大同市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140300', '阳泉市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140400', '长治市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140500', '晋城市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140600', '朔州市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140700', '晋中市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140800', '运城市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('140900', '忻州市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('141000', '临汾市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('141100', '吕梁市', 'prefecture', '地级市', '140000', NULL, NULL),
    ('150000', '内蒙古自治区', 'province', '自治区', NULL, NULL, NULL),
    ('150100', '呼和浩特市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150200', '包头市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150300', '乌海市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150400', '赤峰市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150500', '通辽市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150600', '鄂尔多斯市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150700', '呼伦贝尔市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150800', '巴彦淖尔市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('150900', '乌兰察布市', 'prefecture', '地级市', '150000', NULL, NULL),
    ('152200', '兴安盟', 'prefecture', '盟', '150000', NULL, NULL),
    ('152500', '锡林郭勒盟', 'prefecture', '盟', '150000', NULL, NULL),
    ('152900', '阿拉善盟', 'prefecture', '盟', '150000', NULL, NULL),
    ('210000', '辽宁省', 'province', '省', NULL, NULL, NULL),
    ('210100', '沈阳市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210200', '大连市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210300', '鞍山市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210400', '抚顺市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210500', '本溪市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210600', '丹东市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210700', '锦州市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210800', '营口市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('210900', '阜新市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('211000', '辽阳市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('211100', '盘锦市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('211200', '铁岭市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('211300', '朝阳市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('211400', '葫芦岛市', 'prefecture', '地级市', '210000', NULL, NULL),
    ('220000', '吉林省', 'province', '省', NULL, NULL, NULL),
    ('220100', '长春市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220200', '吉林市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220300', '四平市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220400', '辽源市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220500', '通化市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220600', '白山市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220700', '松原市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('220800', '白城市', 'prefecture', '地级市', '220000', NULL, NULL),
    ('222400', '延边朝鲜族自治州', 'prefecture', '自治州', '220000', NULL, NULL),
    ('230000', '黑龙江省', 'province', '省', NULL, NULL, NULL),
    ('230100', '哈尔滨市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230200', '齐齐哈尔市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230300', '鸡西市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230400', '鹤岗市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230500', '双鸭山市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230600', '大庆市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230700', '伊春市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230800', '佳木斯市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('230900', '七台河市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('231000', '牡丹江市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('231100', '黑河市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('231200', '绥化市', 'prefecture', '地级市', '230000', NULL, NULL),
    ('232700', '大兴安岭地区', 'prefecture', '地区', '230000', NULL, NULL),
    ('310000', '上海市', 'province', '直辖市', NULL, NULL, NULL),
    ('310101', '黄浦区', 'county', '市辖区', '310000', NULL, NULL),
    ('310104', '徐汇区', 'county', '市辖区', '310000', NULL, NULL),
    ('310105', '长宁区', 'county', '市辖区', '310000', NULL, NULL),
    ('310106', '静安区', 'county', '市辖区', '310000', NULL, NULL),
    ('310107', '普陀区', 'county', '市辖区', '310000', NULL, NULL),
    ('310109', '虹口区', 'county', '市辖区', '310000', NULL, NULL),
    ('310110', '杨浦区', 'county', '市辖区', '310000', NULL, NULL),
    ('310112', '闵行区', 'county', '市辖区', '310000', NULL, NULL),
    ('310113', '宝山区', 'county', '市辖区', '310000', NULL, NULL),
    ('310114', '嘉定区', 'county', '市辖区', '310000', NULL, NULL),
    ('310115', '浦东新区', 'county', '市辖区', '310000', NULL, NULL),
    ('310116', '金山区', 'county', '市辖区', '310000', NULL, NULL),
    ('310117', '松江区', 'county', '市辖区', '310000', NULL, NULL),
    ('310118', '青浦区', 'county', '市辖区', '310000', NULL, NULL),
    ('310120', '奉贤区', 'county', '市辖区', '310000', NULL, NULL),
    ('310151', '崇明区', 'county', '市辖区', '310000', NULL, NULL),
    ('320000', '江苏省', 'province', '省', NULL, NULL, NULL),
    ('320100', '南京市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320106', '鼓楼区', 'county', '市辖区', '320100', NULL, NULL),
    ('320200', '无锡市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320300', '徐州市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320400', '常州市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320500', '苏州市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320600', '南通市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320700', '连云港市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320800', '淮安市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('320900', '盐城市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('321000', '扬州市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('321100', '镇江市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('321200', '泰州市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('321300', '宿迁市', 'prefecture', '地级市', '320000', NULL, NULL),
    ('330000', '浙江省', 'province', '省', NULL, NULL, NULL),
    ('330100', '杭州市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330102', '上城区', 'county', '市辖区', '330100', NULL, NULL),
    ('330106', '西湖区', 'county', '市辖区', '330100', NULL, NULL),
    ('330200', '宁波市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330300', '温州市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330400', '嘉兴市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330500', '湖州市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330600', '绍兴市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330700', '金华市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330800', '衢州市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('330900', '舟山市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('331000', '台州市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('331100', '丽水市', 'prefecture', '地级市', '330000', NULL, NULL),
    ('340000', '安徽省', 'province', '省', NULL, NULL, NULL),
    ('340100', '合肥市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340200', '芜湖市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340300', '蚌埠市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340400', '淮南市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340500', '马鞍山市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340600', '淮北市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340700', '铜陵市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('340800', '安庆市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341000', '黄山市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341100', '滁州市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341200', '阜阳市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341300', '宿州市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341500', '六安市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341600', '亳州市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341700', '池州市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('341800', '宣城市', 'prefecture', '地级市', '340000', NULL, NULL),
    ('350000', '福建省', 'province', '省', NULL, NULL, NULL),
    ('350100', '福州市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350200', '厦门市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350300', '莆田市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350400', '三明市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350500', '泉州市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350600', '漳州市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350700', '南平市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350800', '龙岩市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('350900', '宁德市', 'prefecture', '地级市', '350000', NULL, NULL),
    ('360000', '江西省', 'province', '省', NULL, NULL, NULL),
    ('360100', '南昌市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360200', '景德镇市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360300', '萍乡市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360400', '九江市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360500', '新余市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360600', '鹰潭市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360700', '赣州市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360800', '吉安市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('360900', '宜春市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('361000', '抚州市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('361100', '上饶市', 'prefecture', '地级市', '360000', NULL, NULL),
    ('370000', '山东省', 'province', '省', NULL, NULL, NULL),
    ('370100', '济南市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370116', '莱芜区', 'county', '市辖区', '370100', NULL, NULL),
    ('370200', '青岛市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370300', '淄博市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370400', '枣庄市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370500', '东营市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370600', '烟台市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370700', '潍坊市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370800', '济宁市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('370900', '泰安市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371000', '威海市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371100', '日照市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371300', '临沂市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371400', '德州市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371500', '聊城市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371600', '滨州市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('371700', '菏泽市', 'prefecture', '地级市', '370000', NULL, NULL),
    ('410000', '河南省', 'province', '省', NULL, NULL, NULL),
    ('410100', '郑州市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410200', '开封市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410300', '洛阳市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410400', '平顶山市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410500', '安阳市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410600', '鹤壁市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410700', '新乡市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410800', '焦作市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('410900', '濮阳市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411000', '许昌市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411100', '漯河市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411200', '三门峡市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411300', '南阳市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411400', '商丘市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411500', '信阳市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411600', '周口市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('411700', '驻马店市', 'prefecture', '地级市', '410000', NULL, NULL),
    ('419001', '济源市', 'county', '县级市', '410000', NULL, NULL),
    ('420000', '湖北省', 'province', '省', NULL, NULL, NULL),
    ('420100', '武汉市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420106', '武昌区', 'county', '市辖区', '420100', NULL, NULL),
    ('420200', '黄石市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420300', '十堰市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420500', '宜昌市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420600', '襄阳市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420700', '鄂州市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420800', '荆门市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('420900', '孝感市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('421000', '荆州市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('421100', '黄冈市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('421200', '咸宁市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('421300', '随州市', 'prefecture', '地级市', '420000', NULL, NULL),
    ('422800', '恩施土家族苗族自治州', 'prefecture', '自治州', '420000', NULL, NULL),
    ('429004', '仙桃市', 'county', '县级市', '420000', NULL, NULL),
    ('429005', '潜江市', 'county', '县级市', '420000', NULL, NULL),
    ('429006', '天门市', 'county', '县级市', '420000', NULL, NULL),
    ('429021', '神农架林区', 'county', '林区', '420000', NULL, NULL),
    ('430000', '湖南省', 'province', '省', NULL, NULL, NULL),
    ('430100', '长沙市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430200', '株洲市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430300', '湘潭市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430400', '衡阳市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430500', '邵阳市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430600', '岳阳市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430700', '常德市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430800', '张家界市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('430900', '益阳市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('431000', '郴州市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('431100', '永州市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('431200', '怀化市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('431300', '娄底市', 'prefecture', '地级市', '430000', NULL, NULL),
    ('433100', '湘西土家族苗族自治州', 'prefecture', '自治州', '430000', NULL, NULL),
    ('440000', '广东省', 'province', '省', NULL, NULL, NULL),
    ('440100', '广州市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440106', '天河区', 'county', '市辖区', '440100', NULL, NULL),
    ('440200', '韶关市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440300', '深圳市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440400', '珠海市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440500', '汕头市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440600', '佛山市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440700', '江门市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440800', '湛江市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('440900', '茂名市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441200', '肇庆市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441300', '惠州市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441400', '梅州市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441500', '汕尾市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441600', '河源市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441700', '阳江市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441800', '清远市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('441900', '东莞市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('442000', '中山市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('445100', '潮州市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('445200', '揭阳市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('445300', '云浮市', 'prefecture', '地级市', '440000', NULL, NULL),
    ('450000', '广西壮族自治区', 'province', '自治区', NULL, NULL, NULL),
    ('450100', '南宁市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450200', '柳州市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450300', '桂林市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450400', '梧州市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450500', '北海市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450600', '防城港市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450700', '钦州市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450800', '贵港市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('450900', '玉林市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('451000', '百色市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('451100', '贺州市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('451200', '河池市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('451300', '来宾市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('451400', '崇左市', 'prefecture', '地级市', '450000', NULL, NULL),
    ('460000', '海南省', 'province', '省', NULL, NULL, NULL),
    ('460100', '海口市', 'prefecture', '地级市', '460000', NULL, NULL),
    ('460200', '三亚市', 'prefecture', '地级市', '460000', NULL, NULL),
    ('460300', '三沙市', 'prefecture', '地级市', '460000', NULL, NULL),
    ('460400', '儋州市', 'prefecture', '地级市', '460000', NULL, NULL),
    ('469001', '五指山市', 'county', '县级市', '460000', NULL, NULL),
    ('469002', '琼海市', 'county', '县级市', '460000', NULL, NULL),
    ('469005', '文昌市', 'county', '县级市', '460000', NULL, NULL),
    ('469006', '万宁市', 'county', '县级市', '460000', NULL, NULL),
    ('469007', '东方市', 'county', '县级市', '460000', NULL, NULL),
    ('469021', '定安县', 'county', '县', '460000', NULL, NULL),
    ('469022', '屯昌县', 'county', '县', '460000', NULL, NULL),
    ('469023', '澄迈县', 'county', '县', '460000', NULL, NULL),
    ('469024', '临高县', 'county', '县', '460000', NULL, NULL),
    ('469025', '白沙黎族自治县', 'county', '自治县', '460000', NULL, NULL),
    ('469026', '昌江黎族自治县', 'county', '自治县', '460000', NULL, NULL),
    ('469027', '乐东黎族自治县', 'county', '自治县', '460000', NULL, NULL),
    ('469028', '陵水黎族自治县', 'county', '自治县', '460000', NULL, NULL),
    ('469029', '保亭黎族苗族自治县', 'county', '自治县', '460000', NULL, NULL),
    ('469030', '琼中黎族苗族自治县', 'county', '自治县', '460000', NULL, NULL),
    ('500000', '重庆市', 'province', '直辖市', NULL, NULL, NULL),
    ('500101', '万州区', 'county', '市辖区', '500000', NULL, NULL),
    ('500102', '涪陵区', 'county', '市辖区', '500000', NULL, NULL),
    ('500103', '渝中区', 'county', '市辖区', '500000', NULL, NULL),
    ('500104', '大渡口区', 'county', '市辖区', '500000', NULL, NULL),
    ('500106', '沙坪坝区', 'county', '市辖区', '500000', NULL, NULL),
    ('500107', '九龙坡区', 'county', '市辖区', '500000', NULL, NULL),
    ('500108', '南岸区', 'county', '市辖区', '500000', NULL, NULL),
    ('500109', '北碚区', 'county', '市辖区', '500000', NULL, NULL),
    ('500110', '綦江区', 'county', '市辖区', '500000', NULL, NULL),
    ('500111', '大足区', 'county', '市辖区', '500000', NULL, NULL),
    ('500113', '巴南区', 'county', '市辖区', '500000', NULL, NULL),
    ('500114', '黔江区', 'county', '市辖区', '500000', NULL, NULL),
    ('500115', '长寿区', 'county', '市辖区', '500000', NULL, NULL),
    ('500116', '江津区', 'county', '市辖区', '500000', NULL, NULL),
    ('500117', '合川区', 'county', '市辖区', '500000', NULL, NULL),
    ('500118', '永川区', 'county', '市辖区', '500000', NULL, NULL),
    ('500119', '南川区', 'county', '市辖区', '500000', NULL, NULL),
    ('500120', '璧山区', 'county', '市辖区', '500000', NULL, NULL),
    ('500151', '铜梁区', 'county', '市辖区', '500000', NULL, NULL),
    ('500152', '潼南区', 'county', '市辖区', '500000', NULL, NULL),
    ('500153', '荣昌区', 'county', '市辖区', '500000', NULL, NULL),
    ('500154', '开州区', 'county', '市辖区', '500000', NULL, NULL),
    ('500155', '梁平区', 'county', '市辖区', '500000', NULL, NULL),
    ('500156', '武隆区', 'county', '市辖区', '500000', NULL, NULL),
    ('500157', '两江新区', 'county', '市辖区', '500000', NULL, NULL),
    ('500229', '城口县', 'county', '县', '500000', NULL, NULL),
    ('500230', '丰都县', 'county', '县', '500000', NULL, NULL),
    ('500231', '垫江县', 'county', '县', '500000', NULL, NULL),
    ('500233', '忠县', 'county', '县', '500000', NULL, NULL),
    ('500235', '云阳县', 'county', '县', '500000', NULL, NULL),
    ('500236', '奉节县', 'county', '县', '500000', NULL, NULL),
    ('500237', '巫山县', 'county', '县', '500000', NULL, NULL),
    ('500238', '巫溪县', 'county', '县', '500000', NULL, NULL),
    ('500240', '石柱土家族自治县', 'county', '自治县', '500000', NULL, NULL),
    ('500241', '秀山土家族苗族自治县', 'county', '自治县', '500000', NULL, NULL),
    ('500242', '酉阳土家族苗族自治县', 'county', '自治县', '500000', NULL, NULL),
    ('500243', '彭水苗族土家族自治县', 'county', '自治县', '500000', NULL, NULL),
    ('510000', '四川省', 'province', '省', NULL, NULL, NULL),
    ('510100', '成都市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510104', '锦江区', 'county', '市辖区', '510100', NULL, NULL),
    ('510107', '武侯区', 'county', '市辖区', '510100', NULL, NULL),
    ('510300', '自贡市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510400', '攀枝花市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510500', '泸州市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510600', '德阳市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510700', '绵阳市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510800', '广元市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('510900', '遂宁市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511000', '内江市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511100', '乐山市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511300', '南充市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511400', '眉山市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511500', '宜宾市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511600', '广安市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511700', '达州市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511800', '雅安市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('511900', '巴中市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('512000', '资阳市', 'prefecture', '地级市', '510000', NULL, NULL),
    ('513200', '阿坝藏族羌族自治州', 'prefecture', '自治州', '510000', NULL, NULL),
    ('513300', '甘孜藏族自治州', 'prefecture', '自治州', '510000', NULL, NULL),
    ('513400', '凉山彝族自治州', 'prefecture', '自治州', '510000', NULL, NULL),
    ('520000', '贵州省', 'province', '省', NULL, NULL, NULL),
    ('520100', '贵阳市', 'prefecture', '地级市', '520000', NULL, NULL),
    ('520200', '六盘水市', 'prefecture', '地级市', '520000', NULL, NULL),
    ('520300', '遵义市', 'prefecture', '地级市', '520000', NULL, NULL),
    ('520400', '安顺市', 'prefecture', '地级市', '520000', NULL, NULL),
    ('520500', '毕节市', 'prefecture', '地级市', '520000', NULL, NULL),
    ('520600', '铜仁市', 'prefecture', '地级市', '520000', NULL, NULL),
    ('522300', '黔西南布依族苗族自治州', 'prefecture', '自治州', '520000', NULL, NULL),
    ('522600', '黔东南苗族侗族自治州', 'prefecture', '自治州', '520000', NULL, NULL),
    ('522700', '黔南布依族苗族自治州', 'prefecture', '自治州', '520000', NULL, NULL),
    ('530000', '云南省', 'province', '省', NULL, NULL, NULL),
    ('530100', '昆明市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530300', '曲靖市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530400', '玉溪市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530500', '保山市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530600', '昭通市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530700', '丽江市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530800', '普洱市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('530900', '临沧市', 'prefecture', '地级市', '530000', NULL, NULL),
    ('532300', '楚雄彝族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('532500', '红河哈尼族彝族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('532600', '文山壮族苗族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('532800', '西双版纳傣族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('532900', '大理白族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('533100', '德宏傣族景颇族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('533300', '怒江傈僳族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('533400', '迪庆藏族自治州', 'prefecture', '自治州', '530000', NULL, NULL),
    ('540000', '西藏自治区', 'province', '自治区', NULL, NULL, NULL),
    ('540100', '拉萨市', 'prefecture', '地级市', '540000', NULL, NULL),
    ('540200', '日喀则市', 'prefecture', '地级市', '540000', NULL, NULL),
    ('540300', '昌都市', 'prefecture', '地级市', '540000', NULL, NULL),
    ('540400', '林芝市', 'prefecture', '地级市', '540000', NULL, NULL),
    ('540500', '山南市', 'prefecture', '地级市', '540000', NULL, NULL),
    ('540600', '那曲市', 'prefecture', '地级市', '540000', NULL, NULL),
    ('542500', '阿里地区', 'prefecture', '地区', '540000', NULL, NULL),
    ('610000', '陕西省', 'province', '省', NULL, NULL, NULL),
    ('610100', '西安市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610200', '铜川市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610300', '宝鸡市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610400', '咸阳市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610500', '渭南市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610600', '延安市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610700', '汉中市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610800', '榆林市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('610900', '安康市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('611000', '商洛市', 'prefecture', '地级市', '610000', NULL, NULL),
    ('620000', '甘肃省', 'province', '省', NULL, NULL, NULL),
    ('620100', '兰州市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620200', '嘉峪关市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620300', '金昌市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620400', '白银市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620500', '天水市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620600', '武威市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620700', '张掖市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620800', '平凉市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('620900', '酒泉市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('621000', '庆阳市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('621100', '定西市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('621200', '陇南市', 'prefecture', '地级市', '620000', NULL, NULL),
    ('622900', '临夏回族自治州', 'prefecture', '自治州', '620000', NULL, NULL),
    ('623000', '甘南藏族自治州', 'prefecture', '自治州', '620000', NULL, NULL),
    ('630000', '青海省', 'province', '省', NULL, NULL, NULL),
    ('630100', '西宁市', 'prefecture', '地级市', '630000', NULL, NULL),
    ('630200', '海东市', 'prefecture', '地级市', '630000', NULL, NULL),
    ('632200', '海北藏族自治州', 'prefecture', '自治州', '630000', NULL, NULL),
    ('632300', '黄南藏族自治州', 'prefecture', '自治州', '630000', NULL, NULL),
    ('632500', '海南藏族自治州', 'prefecture', '自治州', '630000', NULL, NULL),
    ('632600', '果洛藏族自治州', 'prefecture', '自治州', '630000', NULL, NULL),
    ('632700', '玉树藏族自治州', 'prefecture', '自治州', '630000', NULL, NULL),
    ('632800', '海西蒙古族藏族自治州', 'prefecture', '自治州', '630000', NULL, NULL),
    ('640000', '宁夏回族自治区', 'province', '自治区', NULL, NULL, NULL),
    ('640100', '银川市', 'prefecture', '地级市', '640000', NULL, NULL),
    ('640200', '石嘴山市', 'prefecture', '地级市', '640000', NULL, NULL),
    ('640300', '吴忠市', 'prefecture', '地级市', '640000', NULL, NULL),
    ('640400', '固原市', 'prefecture', '地级市', '640000', NULL, NULL),
    ('640500', '中卫市', 'prefecture', '地级市', '640000', NULL, NULL),
    ('650000', '新疆维吾尔自治区', 'province', '自治区', NULL, NULL, NULL),
    ('650100', '乌鲁木齐市', 'prefecture', '地级市', '650000', NULL, NULL),
    ('650200', '克拉玛依市', 'prefecture', '地级市', '650000', NULL, NULL),
    ('650400', '吐鲁番市', 'prefecture', '地级市', '650000', NULL, NULL),
    ('650500', '哈密市', 'prefecture', '地级市', '650000', NULL, NULL),
    ('652300', '昌吉回族自治州', 'prefecture', '自治州', '650000', NULL, NULL),
    ('652700', '博尔塔拉蒙古自治州', 'prefecture', '自治州', '650000', NULL, NULL),
    ('652800', '巴音郭楞蒙古自治州', 'prefecture', '自治州', '650000', NULL, NULL),
    ('652900', '阿克苏地区', 'prefecture', '地区', '650000', NULL, NULL),
    ('653000', '克孜勒苏柯尔克孜自治州', 'prefecture', '自治州', '650000', NULL, NULL),
    ('653100', '喀什地区', 'prefecture', '地区', '650000', NULL, NULL),
    ('653200', '和田地区', 'prefecture', '地区', '650000', NULL, NULL),
    ('654000', '伊犁哈萨克自治州', 'prefecture', '自治州', '650000', NULL, NULL),
    ('654200', '塔城地区', 'prefecture', '地区', '650000', NULL, NULL),
    ('654300', '阿勒泰地区', 'prefecture', '地区', '650000', NULL, NULL),
    ('659001', '石河子市', 'county', '县级市', '650000', NULL, NULL),
    ('659002', '阿拉尔市', 'county', '县级市', '650000', NULL, NULL),
    ('659003', '图木舒克市', 'county', '县级市', '650000', NULL, NULL),
    ('659004', '五家渠市', 'county', '县级市', '650000', NULL, NULL),
    ('659005', '北屯市', 'county', '县级市', '650000', NULL, NULL),
    ('659006', '铁门关市', 'county', '县级市', '650000', NULL, NULL),
    ('659007', '双河市', 'county', '县级市', '650000', NULL, NULL),
    ('659008', '可克达拉市', 'county', '县级市', '650000', NULL, NULL),
    ('659009', '昆玉市', 'county', '县级市', '650000', NULL, NULL),
    ('659010', '胡杨河市', 'county', '县级市', '650000', NULL, NULL),
    ('659011', '新星市', 'county', '县级市', '650000', NULL, NULL),
    ('659012', '白杨市', 'county', '县级市', '650000', NULL, NULL),
    ('710000', '台湾省', 'province', '省', NULL, NULL, NULL),
    ('810000', '香港特别行政区', 'province', '特别行政区', NULL, NULL, NULL),
    ('820000', '澳门特别行政区', 'province', '特别行政区', NULL, NULL, NULL),
    ('371200', '莱芜市', 'prefecture', NULL, '370000', '370100', 2019),
    ('341400', '巢湖市', 'prefecture', NULL, '340000', '340100', 2011),
    ('522400', '毕节地区', 'prefecture', NULL, '520000', '520500', 2011),
    ('522200', '铜仁地区', 'prefecture', NULL, '520000', '520600', 2011),
    ('632100', '海东地区', 'prefecture', NULL, '630000', '630200', 2013),
    ('542300', '日喀则地区', 'prefecture', NULL, '540000', '540200', 2014),
    ('542100', '昌都地区', 'prefecture', NULL, '540000', '540300', 2014),
    ('542600', '林芝地区', 'prefecture', NULL, '540000', '540400', 2015),
    ('652100', '吐鲁番地区', 'prefecture', NULL, '650000', '650400', 2015),
    ('542200', '山南地区', 'prefecture', NULL, '540000', '540500', 2016),
    ('652200', '哈密地区', 'prefecture', NULL, '650000', '650500', 2016),
    ('500105', '江北区', 'county', NULL, '500000', '500157', 2025),
    ('500112', '渝北区', 'county', NULL, '500000', '500157', 2025),
    ('542400', '那曲地区', 'prefecture', NULL, '540000', '540600', 2017);
INSERT INTO reference_data (name, digest, rows) VALUES ('divisions', 'f7fcb4835346e9ba0cf9a1bde8855b0e2c3908c230c8763a4bde33a2f5f931e3', 506);

CREATE TABLE catalogue_certificate_types (
    code   text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,63}$'),
    name   text NOT NULL,
    sample boolean NOT NULL DEFAULT false
);

-- An item (事项) and its current standard (the ten elements plus modes, frequency and form schema).
-- `standard` holds the whole standard as validated by backend/catalogue/schemas.py; the other
-- columns are the parts that queries filter, join or rank on.
CREATE TABLE catalogue_items (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z]{2}-[0-9]{2}-[0-9]{3}-[0-9]{2}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    item_type   text NOT NULL,
    department  text NOT NULL,
    modes       text[] NOT NULL CHECK (cardinality(modes) > 0 AND modes <@ ARRAY['online', 'proxy', 'joint']),
    frequency   smallint NOT NULL CHECK (frequency BETWEEN 0 AND 100),
    standard    jsonb NOT NULL,
    revision    integer NOT NULL DEFAULT 1,
    sample      boolean NOT NULL DEFAULT false,
    name_norm   text NOT NULL,
    alias_norms text[] NOT NULL DEFAULT '{}',
    search_doc  tsvector NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalogue_items_search ON catalogue_items USING gin (search_doc);

-- Every earlier standard of an item, kept when an admin revises it.
CREATE TABLE catalogue_item_revisions (
    item_code  text NOT NULL REFERENCES catalogue_items (code),
    revision   integer NOT NULL,
    standard   jsonb NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text,
    PRIMARY KEY (item_code, revision)
);

-- A service list (通办清单): a national batch or a regional list, in numbered versions.
CREATE TABLE catalogue_lists (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
    kind       text NOT NULL CHECK (kind IN ('national', 'regional')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The list state machine as data: the only moves a version may make.
CREATE TABLE catalogue_list_transitions (
    from_state text NOT NULL,
    action     text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (from_state, action)
);
INSERT INTO catalogue_list_transitions (from_state, action, to_state) VALUES
    ('draft', 'publish', 'published'),
    ('published', 'supersede', 'superseded'),
    ('published', 'withdraw', 'withdrawn');

-- A version is in force on [effective_date, effective_until). Publishing a newer version closes the
-- previous one at the newer one's effective date; withdrawing closes it at the withdrawal date.
CREATE TABLE catalogue_list_versions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_code         text NOT NULL REFERENCES catalogue_lists (code),
    version           integer NOT NULL CHECK (version > 0),
    state             text NOT NULL DEFAULT 'draft'
                      CHECK (state IN ('draft', 'published', 'superseded', 'withdrawn')),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    issuer            text,
    document          text,
    note              text,
    sample            boolean NOT NULL DEFAULT false,
    published_on      date,
    effective_date    date,
    effective_until   date,
    supersedes        integer,
    withdrawal_reason text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (list_code, version),
    CHECK (state = 'draft' OR (effective_date IS NOT NULL AND published_on IS NOT NULL)),
    CHECK (effective_until IS NULL OR effective_until >= effective_date),
    -- Two versions of one list never apply on the same day.
    EXCLUDE USING gist (list_code WITH =, daterange(effective_date, effective_until) WITH &&)
        WHERE (state <> 'draft')
);
CREATE UNIQUE INDEX catalogue_list_versions_one_draft ON catalogue_list_versions (list_code) WHERE state = 'draft';
CREATE INDEX catalogue_list_versions_in_force ON catalogue_list_versions (effective_date, effective_until)
    WHERE state <> 'draft';

-- Member provinces of a regional list version (none for a national list).
CREATE TABLE catalogue_list_members (
    version_id bigint NOT NULL REFERENCES catalogue_list_versions (id) ON DELETE CASCADE,
    province   char(6) NOT NULL REFERENCES divisions (code) CHECK (province ~ '^[0-9]{2}0000$'),
    PRIMARY KEY (version_id, province)
);
CREATE INDEX catalogue_list_members_province ON catalogue_list_members (province, version_id);

CREATE TABLE catalogue_list_entries (
    version_id   bigint NOT NULL REFERENCES catalogue_list_versions (id) ON DELETE CASCADE,
    item_code    text NOT NULL REFERENCES catalogue_items (code),
    modes        text[] NOT NULL CHECK (cardinality(modes) > 0 AND modes <@ ARRAY['online', 'proxy', 'joint']),
    available_by date,
    note         text,
    PRIMARY KEY (version_id, item_code)
);

-- Change history of lists, public for every version that left the draft state.
CREATE TABLE catalogue_list_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_code      text NOT NULL REFERENCES catalogue_lists (code),
    version        integer NOT NULL,
    action         text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    actor_kind     text NOT NULL,
    actor_division text,
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX catalogue_list_events_list ON catalogue_list_events (list_code, id);

-- A published list version is immutable: content columns never change, entries and members never
-- change, and the version is never deleted. Only the lifecycle columns move, along a transition.
CREATE FUNCTION catalogue_list_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'list % version % is % and cannot be deleted', OLD.list_code, OLD.version, OLD.state
                USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state = 'draft' THEN
        IF NEW.state <> 'draft' AND NOT EXISTS (
            SELECT 1 FROM catalogue_list_transitions WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION 'no transition from % to %', OLD.state, NEW.state
                USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.list_code, NEW.version, NEW.name, NEW.issuer, NEW.document, NEW.note, NEW.sample, NEW.published_on,
        NEW.effective_date, NEW.supersedes)
       IS DISTINCT FROM
       (OLD.list_code, OLD.version, OLD.name, OLD.issuer, OLD.document, OLD.note, OLD.sample, OLD.published_on,
        OLD.effective_date, OLD.supersedes) THEN
        RAISE EXCEPTION 'list % version % is % and its content cannot change', OLD.list_code, OLD.version, OLD.state
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF NEW.state <> OLD.state AND NOT EXISTS (
        SELECT 1 FROM catalogue_list_transitions WHERE from_state = OLD.state AND to_state = NEW.state) THEN
        RAISE EXCEPTION 'no transition from % to %', OLD.state, NEW.state
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    -- A closing date may be set or brought forward, never pushed later: that would extend a list.
    IF OLD.effective_until IS NOT NULL AND (NEW.effective_until IS NULL OR NEW.effective_until > OLD.effective_until) THEN
        RAISE EXCEPTION 'list % version % already ends on %', OLD.list_code, OLD.version, OLD.effective_until
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER catalogue_list_versions_immutable BEFORE UPDATE OR DELETE ON catalogue_list_versions
    FOR EACH ROW EXECUTE FUNCTION catalogue_list_version_guard();

CREATE FUNCTION catalogue_list_content_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_version bigint := CASE WHEN TG_OP = 'INSERT' THEN NEW.version_id ELSE OLD.version_id END;
    row_state text;
BEGIN
    SELECT state INTO row_state FROM catalogue_list_versions WHERE id = row_version;
    -- A cascade from deleting a draft finds no version row any more.
    IF row_state IS NOT NULL AND row_state <> 'draft' THEN
        RAISE EXCEPTION 'the content of a % list version cannot change', row_state
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version_id <> OLD.version_id THEN
        RAISE EXCEPTION 'entries cannot move between versions' USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER catalogue_list_entries_immutable BEFORE INSERT OR UPDATE OR DELETE ON catalogue_list_entries
    FOR EACH ROW EXECUTE FUNCTION catalogue_list_content_guard();
CREATE TRIGGER catalogue_list_members_immutable BEFORE INSERT OR UPDATE OR DELETE ON catalogue_list_members
    FOR EACH ROW EXECUTE FUNCTION catalogue_list_content_guard();

-- A province's own version of a national item (事项实施清单). Versions of one (item, province)
-- follow each other: each is in force from its effective date until the next one's.
CREATE TABLE catalogue_variants (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_code      text NOT NULL REFERENCES catalogue_items (code),
    division       char(6) NOT NULL REFERENCES divisions (code) CHECK (division ~ '^[0-9]{2}0000$'),
    version        integer NOT NULL CHECK (version > 0),
    effective_date date NOT NULL,
    standard       jsonb NOT NULL,
    sample         boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (item_code, division, version),
    UNIQUE (item_code, division, effective_date)
);

CREATE FUNCTION catalogue_variant_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a published local variant cannot change; publish a new version'
        USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
END $$;
CREATE TRIGGER catalogue_variants_immutable BEFORE UPDATE OR DELETE ON catalogue_variants
    FOR EACH ROW EXECUTE FUNCTION catalogue_variant_guard();

-- FAQ knowledge base (常见问题), linked to the items the answers are about.
CREATE SEQUENCE catalogue_faq_number;
CREATE TABLE catalogue_faq (
    id         text PRIMARY KEY DEFAULT 'FAQ-' || lpad(nextval('catalogue_faq_number')::text, 3, '0')
               CHECK (id ~ '^FAQ-[0-9]{3,}$'),
    question   text NOT NULL CHECK (length(question) BETWEEN 2 AND 200),
    answer     text NOT NULL CHECK (length(answer) BETWEEN 2 AND 4000),
    sample     boolean NOT NULL DEFAULT false,
    search_doc tsvector NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalogue_faq_search ON catalogue_faq USING gin (search_doc);

CREATE TABLE catalogue_faq_items (
    faq_id    text NOT NULL REFERENCES catalogue_faq (id) ON DELETE CASCADE,
    item_code text NOT NULL REFERENCES catalogue_items (code),
    position  smallint NOT NULL,
    PRIMARY KEY (faq_id, item_code)
);
CREATE INDEX catalogue_faq_items_item ON catalogue_faq_items (item_code);
