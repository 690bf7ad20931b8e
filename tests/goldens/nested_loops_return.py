def execute_command(image):
    image_patch = ImagePatch(image)
    for person in image_patch.find("person"):
        for dog in image_patch.find("dog"):
            if distance(person, dog) < 50:
                return "yes"
    return "no"
