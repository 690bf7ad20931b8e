def execute_command(image):
    image_patch = ImagePatch(image)
    count = 0
    for cat in image_patch.find("cat"):
        if cat.exists("collar"):
            continue
        if cat.verify_property("cat", "sleeping"):
            return "sleeping"
        count += 1
    return str(count)
